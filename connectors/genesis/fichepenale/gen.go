package fichepenale

// The generator is gowsdl v0.5.0, pinned as a tool in go.mod. It writes
// <-d>/<-p>/<-o>, so "-d .." with "-p fichepenale" writes this directory's fichepenale.go.
// TestGeneratedCodeIsCurrent runs the same command into a temporary directory.

//go:generate go tool gowsdl -p fichepenale -o fichepenale.go -d .. ../fiche-penale.wsdl
