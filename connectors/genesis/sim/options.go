package sim

// DefaultPath is where GENESIS serves the FichePenale service.
const DefaultPath = "/genesis/ws/fichepenale"

// MaxRequestBytes bounds a request body; above it the simulator answers 413.
const MaxRequestBytes = 1 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// Path is the service path. Default: DefaultPath.
	Path string
	// Seed makes fault decisions (fractions, random latency, which fiches are
	// "unknown") reproducible. Default: 1.
	Seed uint64
	// State is the data served. Default: a new empty State. Passing one lets several
	// servers (or a restarted one) serve the same data.
	State *State
}

// withDefaults returns o with every zero field given its default.
func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.State == nil {
		o.State = NewState()
	}
	return o
}
