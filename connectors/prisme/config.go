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

// Config is the PRISME sink's settings (connectors.<name> in the configuration).
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
	// Timeout bounds one HTTP exchange (token or write), body included. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// Spec registers the PRISME sink.
var Spec = connectors.Spec{
	Kind: "prisme",
	Summary: "sink: PRISME (SPIP probation) REST API — fiches pénales, décisions, mesures, custody events; " +
		"OAuth2 client credentials, Idempotency-Key",
	New: newInstance,
}

// newInstance validates the settings, reporting every problem under path, and builds
// the sink. It does not contact PRISME.
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
	if len(ps) > 0 {
		return nil, ps
	}
	s, err := NewSink(o)
	if err != nil { // cannot happen: the same checks passed above
		ps.Add(path, "%v", err)
		return nil, ps
	}
	return &connectors.Instance{Sink: s, Recipient: policy.Probation, Close: s.Close}, nil
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
