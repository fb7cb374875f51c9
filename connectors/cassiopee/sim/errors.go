package sim

import "errors"

// ErrNoCourts is GenerateCerts' error when it is given no court.
var ErrNoCourts = errors.New("cassiopee sim: at least one court is needed")
