package prisme

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/pipeline/policy"
)

// ScopeEcriture is the OAuth scope of PRISME's write endpoints (flux.ecriture).
const ScopeEcriture = "flux.ecriture"

// DefaultTimeout bounds one HTTP exchange with PRISME when the settings name none.
const DefaultTimeout = 10 * time.Second

// Config is the PRISME connector's settings (connectors.<name> in the configuration):
// the connection, used by the sink, and Events, which turns the events source on.
type Config struct {
	// URL is PRISME's base URL, e.g. https://prisme.justice.example: the endpoints
	// (/oauth/token, /api/v1/...) are appended to it. Required, http or https.
	URL string `yaml:"url"`
	// ClientID is the hub's OAuth client_id at PRISME. Required.
	ClientID string `yaml:"clientId"`
	// ClientSecret names where the client_secret is read from: {env: VAR} or
	// {file: /path}; never the secret itself. Required.
	ClientSecret config.Secret `yaml:"clientSecret"`
	// Scopes are the OAuth scopes requested. Default [flux.ecriture]; must include it.
	Scopes []string `yaml:"scopes"`
	// Timeout bounds one HTTP exchange (token, write or events page), body included.
	// Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Events configures the source of PRISME's outgoing events (flows 4 and 5). Default:
	// off, the instance is a sink only.
	Events EventsConfig `yaml:"events"`
	// InventoryURL, when set, is where reconcile lists what PRISME holds (see
	// HoldingSink: the contract has no read API, so this is an export on PRISME's side;
	// the simulator's is http://HOST/_sim/current). Default: none, and reconcile takes
	// PRISME's acknowledgements for what it holds.
	InventoryURL string `yaml:"inventoryUrl"`
}

// EventsConfig is the events source's settings (connectors.<name>.events).
type EventsConfig struct {
	// Enabled makes the instance a source too: it reads GET /api/v1/evenements with a
	// token of its own, of scope flux.lecture (whatever scopes says: the sink's). The
	// client must be granted flux.lecture in PRISME. Default false.
	Enabled bool `yaml:"enabled"`
	// PageSize is the events asked per read (the contract's limite), 1..500. Default
	// 100.
	PageSize int `yaml:"pageSize"`
}

// Spec registers the PRISME connector.
var Spec = connectors.Spec{
	Kind: "prisme",
	Summary: "sink and source: PRISME (SPIP probation) REST API — pushes fiches pénales, décisions, mesures, " +
		"custody events (Idempotency-Key); with events.enabled, reads its case transfers and validated reports; " +
		"OAuth2 client credentials",
	New: newInstance,
}

// newInstance validates the settings, reporting every problem under path, and builds
// the sink, and the events source when events.enabled. It does not contact PRISME.
func newInstance(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
	var c Config
	ps := config.DecodeSettings(settings, &c, path)
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c.ClientSecret.Check(path+".clientSecret", getenv, &ps)
	secret, _ := c.ClientSecret.Resolve(getenv)
	o := Options{URL: c.URL, ClientID: c.ClientID, ClientSecret: secret, Scopes: c.Scopes, Timeout: c.Timeout,
		HTTPClient: env.HTTPClient, Logger: env.Logger}
	o.problems(path, &ps, false)
	so := SourceOptions{PageSize: c.Events.PageSize}
	so.problems(path+".events", &ps)
	if c.Events.PageSize == 0 && settingNamed(settings, "events", "pageSize") {
		ps.Add(path+".events.pageSize", "must be between 1 and %d (PRISME's largest limite)", MaxPageSize)
	}
	if c.InventoryURL != "" {
		if u, err := url.Parse(c.InventoryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.Add(path+".inventoryUrl", "must be an absolute http or https URL")
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	s, err := NewSink(o)
	if err != nil { // cannot happen: the same checks passed above
		ps.Add(path, "%v", err)
		return nil, ps
	}
	inst := &connectors.Instance{Sink: s, Recipient: policy.Probation, Close: s.Close}
	if c.InventoryURL != "" {
		inst.Sink = newHoldingSink(s, c.InventoryURL, o.withDefaults().Timeout)
	}
	if c.Events.Enabled {
		src := newSource(s.c.withScopes([]string{ScopeLecture}), so, o.withDefaults().Logger)
		inst.Source, inst.Decoder = src, src
	}
	return inst, nil
}

// settingNamed reports whether settings name section.key, whatever its value.
func settingNamed(settings map[string]any, section, key string) bool {
	m, ok := settings[section].(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

// Options configure a Sink built in Go (Spec builds them from Config).
type Options struct {
	// URL is PRISME's base URL. Required, http or https.
	URL string
	// ClientID and ClientSecret are the hub's OAuth client credentials. Required.
	ClientID     string
	ClientSecret string
	// Scopes are the OAuth scopes requested. Default [ScopeEcriture]; must include it.
	Scopes []string
	// Timeout bounds one HTTP exchange. Default DefaultTimeout.
	Timeout time.Duration
	// HTTPClient, when set, lends its Transport: an *http.Transport is cloned (its
	// proxy and TLS settings kept, with a connection pool of the sink's own); any other
	// RoundTripper is used as is. Its Timeout, redirect policy and cookie jar are not
	// used. Default: a clone of http.DefaultTransport.
	HTTPClient *http.Client
	// Logger receives debug lines about tokens (never a token or a secret). Default:
	// no logging.
	Logger *zap.Logger
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if len(o.Scopes) == 0 {
		o.Scopes = []string{ScopeEcriture}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// problems adds every problem of o under path; checkSecret says whether an empty
// ClientSecret is reported (the configuration reports its Secret on its own).
func (o Options) problems(path string, ps *config.Problems, checkSecret bool) {
	u, err := url.Parse(o.URL)
	switch {
	case o.URL == "":
		ps.Add(path+".url", "required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		ps.Add(path+".url", "must be an absolute http or https URL")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		ps.Add(path+".url", "must be a base URL, without query, fragment or credentials")
	}
	if strings.TrimSpace(o.ClientID) == "" {
		ps.Add(path+".clientId", "required")
	}
	if checkSecret && o.ClientSecret == "" {
		ps.Add(path+".clientSecret", "required")
	}
	for i, sc := range o.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			ps.Add(fmt.Sprintf("%s.scopes[%d]", path, i), "must be one scope name, without spaces or quotes")
		}
	}
	if len(o.Scopes) > 0 && !slices.Contains(o.Scopes, ScopeEcriture) {
		ps.Add(path+".scopes", "must include %s, the scope of PRISME's write endpoints", ScopeEcriture)
	}
	if o.Timeout < 0 {
		ps.Add(path+".timeout", "must not be negative")
	}
}
