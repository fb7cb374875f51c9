package sim

import "time"

// The scopes PRISME grants.
const (
	// ScopeEcriture lets a client push data into PRISME.
	ScopeEcriture = "flux.ecriture"
	// ScopeLecture lets a client read PRISME's outgoing events.
	ScopeLecture = "flux.lecture"
)

// Default credentials, used when Options.Clients is empty.
const (
	// DefaultClientID is the client id configured when Options.Clients is empty.
	DefaultClientID = "passerelle"
	// DefaultClientSecret is DefaultClientID's secret.
	DefaultClientSecret = "passerelle-secret"
)

// MaxBodyBytes is the contract's limit on a request body (1 MiB); above it, 413.
const MaxBodyBytes = 1 << 20

// Client is a partner application allowed to get tokens.
type Client struct {
	// ID is the OAuth client_id.
	ID string
	// Secret is the OAuth client_secret.
	Secret string
	// Scopes are the scopes granted (ScopeEcriture, ScopeLecture); a token request
	// without `scope` gets all of them.
	Scopes []string
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Clients are the partner applications. Default: one client DefaultClientID /
	// DefaultClientSecret granted both scopes.
	Clients []Client
	// TokenTTL is the lifetime of a token (expires_in). Default: 5 minutes.
	TokenTTL time.Duration
	// IdempotencyRetention is how long a 201 is remembered under its key. Default:
	// 30 days, as the contract says.
	IdempotencyRetention time.Duration
	// Now is the clock (token expiry, recuLe, retention). Default: time.Now. A test
	// may give a clock it moves forward to expire tokens without waiting.
	Now func() time.Time
	// Seed makes fault fractions and generated events reproducible. Default: 1.
	Seed uint64
	// MaxRequests bounds the request log: beyond a quarter more, the oldest entries are
	// dropped down to MaxRequests. Default: 100,000.
	MaxRequests int
}

// withDefaults returns o with every zero field given its default.
func (o Options) withDefaults() Options {
	if len(o.Clients) == 0 {
		o.Clients = []Client{{ID: DefaultClientID, Secret: DefaultClientSecret,
			Scopes: []string{ScopeEcriture, ScopeLecture}}}
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 5 * time.Minute
	}
	if o.IdempotencyRetention <= 0 {
		o.IdempotencyRetention = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 100_000
	}
	return o
}
