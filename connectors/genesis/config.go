package genesis

import (
	"net/url"
	"time"

	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
)

// Bounds and defaults of Config.
const (
	// DefaultPageSize is the number of movements asked per ListerMouvements call.
	DefaultPageSize = 500
	// MaxPageSize is the largest page GENESIS serves (nombreMax 1..1000).
	MaxPageSize = 1000
	// DefaultConcurrency is the number of fiches a Read reads at once.
	DefaultConcurrency = 4
	// MaxConcurrency bounds Config.Concurrency: GENESIS is a shared production system.
	MaxConcurrency = 16
	// MaxMaxRetries bounds Config.MaxRetries: beyond it a GENESIS outage should reach
	// the pipeline's own backoff, which logs it.
	MaxMaxRetries = 20
)

// Config is the GENESIS source's settings (connectors.<name> with kind genesis).
type Config struct {
	// URL is the FichePenale service endpoint, e.g.
	// https://genesis.justice.example/genesis/ws/fichepenale. Required, http or https.
	URL string `yaml:"url"`
	// PageSize is the nombreMax of each ListerMouvements call, 1..1000: one Read
	// returns at most this many movements (each a custody event, plus the penal record
	// of each fiche they announce). Default 500.
	PageSize int `yaml:"pageSize"`
	// Concurrency is the number of ConsulterFichePenale calls in flight at once while
	// a page's fiches are read, 1..16 (1: one after the other). Default 4.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds one HTTP attempt, body included; GENESIS may take up to 10 s to
	// answer. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries is the number of retries of a transient failure (503
	// ServiceIndisponible, timeouts, connection errors) inside one call, 0..20, before
	// the Read fails and the pipeline backs off. Default 4.
	MaxRetries *int `yaml:"maxRetries"`
	// RetryWaitMin and RetryWaitMax bound the backoff between those retries
	// (exponential with jitter; a Retry-After up to RetryWaitMax is honoured, a longer
	// one is handed to the pipeline). Defaults 250ms and 10s.
	RetryWaitMin time.Duration `yaml:"retryWaitMin"`
	RetryWaitMax time.Duration `yaml:"retryWaitMax"`
	// MaxResponseBytes bounds one response body; a larger fiche is quarantined, a
	// larger page fails the Read. Default 4 MiB.
	MaxResponseBytes int64 `yaml:"maxResponseBytes"`
}

// Spec registers the GENESIS source.
var Spec = connectors.Spec{
	Kind:    "genesis",
	Summary: "source: GENESIS fiches pénales and custody movements, polled from its FichePenale SOAP service",
	New:     newInstance,
}

// newInstance validates settings, reporting every problem under path, and builds the
// source. It does not contact GENESIS.
func newInstance(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
	var c Config
	ps := config.DecodeSettings(settings, &c, path)
	opts, more := c.options(path)
	ps = append(ps, more...)
	if len(ps) > 0 {
		return nil, ps
	}
	opts.HTTPClient = env.HTTPClient
	client, err := New(opts)
	if err != nil { // options already checked: only a defect gets here
		return nil, connectors.Problemf(path, "%v", err)
	}
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := NewSource(client, SourceOptions{PageSize: c.PageSize, Concurrency: c.Concurrency, Logger: log})
	return &connectors.Instance{Source: s, Decoder: s, Close: s.Close}, nil
}

// options checks c, fills its defaults and returns the Client's options; every problem
// is reported under path.
func (c *Config) options(path string) (Options, config.Problems) {
	var ps config.Problems
	if c.URL == "" {
		ps.Add(path+".url", "required")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(path+".url", "must be an absolute http or https URL")
	}
	switch {
	case c.PageSize == 0:
		c.PageSize = DefaultPageSize
	case c.PageSize < 1 || c.PageSize > MaxPageSize:
		ps.Add(path+".pageSize", "must be between 1 and %d (GENESIS's nombreMax)", MaxPageSize)
	}
	switch {
	case c.Concurrency == 0:
		c.Concurrency = DefaultConcurrency
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		ps.Add(path+".concurrency", "must be between 1 and %d", MaxConcurrency)
	}
	if c.Timeout < 0 {
		ps.Add(path+".timeout", "must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	retries := DefaultMaxRetries
	if c.MaxRetries != nil {
		retries = *c.MaxRetries
		if retries < 0 || retries > MaxMaxRetries {
			ps.Add(path+".maxRetries", "must be between 0 and %d", MaxMaxRetries)
		}
	}
	if c.RetryWaitMin < 0 {
		ps.Add(path+".retryWaitMin", "must not be negative")
	}
	if c.RetryWaitMax < 0 {
		ps.Add(path+".retryWaitMax", "must not be negative")
	}
	if c.RetryWaitMin == 0 {
		c.RetryWaitMin = DefaultRetryWaitMin
	}
	if c.RetryWaitMax == 0 {
		c.RetryWaitMax = max(DefaultRetryWaitMax, c.RetryWaitMin)
	}
	if c.RetryWaitMin > c.RetryWaitMax {
		ps.Add(path+".retryWaitMin", "must not exceed retryWaitMax")
	}
	if c.MaxResponseBytes < 0 {
		ps.Add(path+".maxResponseBytes", "must not be negative")
	}
	opts := Options{
		URL:              c.URL,
		Timeout:          c.Timeout,
		MaxRetries:       retries,
		RetryWaitMin:     c.RetryWaitMin,
		RetryWaitMax:     c.RetryWaitMax,
		MaxResponseBytes: c.MaxResponseBytes,
	}
	if retries == 0 {
		opts.MaxRetries = -1 // Options: 0 means the default, negative no retry
	}
	return opts, ps
}
