package prisme

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"passerelle/connectors"
)

// The transport towards PRISME: one keep-alive HTTP client and an OAuth 2.0 token
// cache. A call is one HTTP exchange, plus one more only when PRISME answers 401
// `invalid_token` (the contract's "get a new token and retry"). There is no other
// retry layer here: the pipeline retries transient errors itself, with backoff,
// Retry-After and attempt counts recorded (doc.go says why).

const (
	// maxAnswerBytes bounds an answer body the sink reads: an Accuse is a few hundred
	// bytes, a problem at most MaxProblemBytes.
	maxAnswerBytes = MaxProblemBytes
	// maxIdleConnsPerHost keeps enough idle connections for the pipeline's concurrent
	// lanes (16 by default): net/http's default of 2 would close and reopen
	// connections under load.
	maxIdleConnsPerHost = 32
	// userAgent is sent with every request.
	userAgent = "passerelle-prisme/1"
)

// answer is PRISME's answer to one write, read whole (up to maxAnswerBytes).
type answer struct {
	status int
	header http.Header
	body   []byte
}

// client posts to PRISME's write endpoints with a bearer token. Safe for concurrent
// use.
type client struct {
	base   string // the configured URL without its trailing slash
	http   *http.Client
	tokens *tokenCache
	owned  *http.Transport // the client's own transport, closed by close; nil if lent
}

// newClient builds the client of o (already validated). It contacts nobody.
func newClient(o Options, log *zap.Logger) *client {
	var rt http.RoundTripper
	var owned *http.Transport
	var lent http.RoundTripper
	if o.HTTPClient != nil {
		lent = o.HTTPClient.Transport
	}
	switch t := lent.(type) {
	case nil:
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			owned = dt.Clone()
		} else {
			owned = &http.Transport{}
		}
	case *http.Transport:
		// A clone keeps the lent transport's settings (proxy, TLS) with a pool of
		// our own, sized for the pipeline's lanes.
		owned = t.Clone()
	default:
		rt = t // a wrapper (instrumentation, tests): used as is, not ours to close
	}
	if owned != nil {
		owned.MaxIdleConnsPerHost = max(owned.MaxIdleConnsPerHost, maxIdleConnsPerHost)
		rt = owned
	}
	hc := &http.Client{
		Transport: rt,
		Timeout:   o.Timeout,
		// PRISME's endpoints do not move; following a redirect would resend the body
		// and the bearer token to another address. A 3xx is an unexpected answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := strings.TrimRight(o.URL, "/")
	return &client{
		base:  base,
		http:  hc,
		owned: owned,
		tokens: &tokenCache{
			cfg: clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret,
				TokenURL: base + "/oauth/token", Scopes: o.Scopes, AuthStyle: oauth2.AuthStyleInHeader},
			http:  hc,
			fetch: make(chan struct{}, 1),
			log:   log,
		},
	}
}

// withScopes returns a client sharing c's transport, with a token cache of its own
// asking for scopes: the events source reads with a flux.lecture token while the sink
// writes with flux.ecriture, so neither token can do the other's job.
func (c *client) withScopes(scopes []string) *client {
	cfg := c.tokens.cfg
	cfg.Scopes = slices.Clone(scopes)
	return &client{base: c.base, http: c.http, owned: c.owned,
		tokens: &tokenCache{cfg: cfg, http: c.http, fetch: make(chan struct{}, 1), log: c.tokens.log}}
}

// errAnswerTooLarge says that an answer exceeded the limit get was given.
var errAnswerTooLarge = errors.New("answer too large")

// get reads path with query and a bearer token, keeping at most limit bytes of the
// answer (errAnswerTooLarge beyond, unclassified: the caller decides). A 401
// invalid_token drops the token and asks once more with a new one. The other errors
// are classified (transient).
func (c *client) get(ctx context.Context, path string, query url.Values, limit int64) (answer, error) {
	tok, err := c.tokens.get(ctx)
	if err != nil {
		return answer{}, err
	}
	a, err := c.fetchGet(ctx, path, query, limit, tok)
	if err != nil || a.status != http.StatusUnauthorized || !invalidToken(a.header) {
		return a, err
	}
	c.tokens.invalidate(tok)
	if tok, err = c.tokens.get(ctx); err != nil {
		return answer{}, err
	}
	return c.fetchGet(ctx, path, query, limit, tok)
}

// fetchGet is one GET exchange.
func (c *client) fetchGet(ctx context.Context, path string, query url.Values, limit int64, tok *oauth2.Token) (answer, error) {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return answer{}, connectors.Transient(fmt.Errorf("%w: GET %s: %w", ErrUnexpectedAnswer, path, redactURL(err)), 0)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, connectors.Transient(fmt.Errorf("%w: GET %s: %w", ErrUnavailable, path, redactURL(err)), 0)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return answer{}, connectors.Transient(fmt.Errorf("%w: GET %s: read the answer: %w", ErrUnavailable, path, redactURL(err)), 0)
	}
	if int64(len(raw)) > limit {
		return answer{status: resp.StatusCode, header: resp.Header}, errAnswerTooLarge
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// close releases the idle connections of the client's own transport.
func (c *client) close() {
	if c.owned != nil {
		c.owned.CloseIdleConnections()
	}
}

// post sends body to path with the Idempotency-Key key and X-Correlation-Id
// correlationID. A 401 invalid_token drops the token and sends once more with a new
// one, with the same key. The error, if any, is already classified (transient).
func (c *client) post(ctx context.Context, path, key, correlationID string, body []byte) (answer, error) {
	tok, err := c.tokens.get(ctx)
	if err != nil {
		return answer{}, err
	}
	a, err := c.send(ctx, path, key, correlationID, body, tok)
	if err != nil || a.status != http.StatusUnauthorized || !invalidToken(a.header) {
		return a, err
	}
	c.tokens.invalidate(tok)
	if tok, err = c.tokens.get(ctx); err != nil {
		return answer{}, err
	}
	return c.send(ctx, path, key, correlationID, body, tok)
}

// send is one HTTP exchange. Go's Transport may resend the request once by itself, on
// a reused keep-alive connection that closed before any answer: the Idempotency-Key
// makes that safe (PRISME answers the repeat with 200 and the original Accuse).
func (c *client) send(ctx context.Context, path, key, correlationID string, body []byte, tok *oauth2.Token) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, connectors.Transient(fmt.Errorf("%w: POST %s: %w", ErrUnexpectedAnswer, path, redactURL(err)), 0)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("Idempotency-Key", key)
	if correlationID != "" {
		req.Header.Set("X-Correlation-Id", correlationID)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, connectors.Transient(fmt.Errorf("%w: POST %s: %w", ErrUnavailable, path, redactURL(err)), 0)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return answer{}, connectors.Transient(fmt.Errorf("%w: POST %s: read the answer: %w", ErrUnavailable, path, redactURL(err)), 0)
	}
	// Drain a little more so that the connection can be reused; beyond that, closing
	// it is cheaper than reading an absurd answer.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// invalidToken reports whether a 401's WWW-Authenticate says the bearer token is
// invalid (RFC 6750: unknown, expired or revoked), the contract's cue to get a new one.
func invalidToken(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		for p := range strings.SplitSeq(params, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(name), "error") &&
				strings.Trim(strings.TrimSpace(value), `"`) == "invalid_token" {
				return true
			}
		}
	}
	return false
}

// tokenCache holds the current access token: fetched with the client credentials
// grant when there is none or when it expires within 10 seconds (oauth2.Token.Valid),
// one fetch at a time — concurrent callers wait for it (or for their context) instead
// of each fetching a token.
type tokenCache struct {
	cfg   clientcredentials.Config
	http  *http.Client
	fetch chan struct{} // a one-slot semaphore held while fetching
	log   *zap.Logger

	mu  sync.Mutex
	tok *oauth2.Token
}

// current returns the cached token if it is still valid.
func (c *tokenCache) current() *oauth2.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Valid() {
		return c.tok
	}
	return nil
}

// get returns a valid token, fetching one if needed.
func (c *tokenCache) get(ctx context.Context) (*oauth2.Token, error) {
	if t := c.current(); t != nil {
		return t, nil
	}
	select {
	case c.fetch <- struct{}{}:
	case <-ctx.Done():
		return nil, connectors.Transient(fmt.Errorf("%w: waiting for a token: %w", ErrUnavailable, ctx.Err()), 0)
	}
	defer func() { <-c.fetch }()
	if t := c.current(); t != nil {
		return t, nil // fetched by another caller meanwhile
	}
	t, err := c.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, c.http))
	if err != nil {
		return nil, tokenError(err)
	}
	c.mu.Lock()
	c.tok = t
	c.mu.Unlock()
	c.log.Debug("prisme token obtained", zap.Duration("expires_in", time.Until(t.Expiry).Round(time.Second)))
	return t, nil
}

// invalidate drops stale if it is still the cached token (a token refused by PRISME);
// a newer token fetched meanwhile by another caller stays.
func (c *tokenCache) invalidate(stale *oauth2.Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == stale {
		c.tok = nil
		c.log.Debug("prisme refused the token (invalid_token): fetching a new one")
	}
}

// tokenError classifies a failed token request. The token endpoint's body is never
// quoted (only its RFC 6749 error code, sanitised), nor the credentials.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return connectors.Transient(fmt.Errorf("%w: token: %w", ErrUnavailable, redactURL(err)), 0)
	}
	status := 0
	var h http.Header
	if re.Response != nil {
		status, h = re.Response.StatusCode, re.Response.Header
	}
	if status == http.StatusTooManyRequests || status >= 500 {
		return connectors.Transient(fmt.Errorf("%w: token endpoint answered %d", ErrUnavailable, status), retryAfter(h))
	}
	code := typeSlug(re.ErrorCode)
	if code != "" {
		code = " " + code
	}
	return connectors.Transient(fmt.Errorf("%w: token endpoint answered %d%s: check clientId, clientSecret and scopes, and the client's grant in PRISME",
		ErrUnauthorized, status, code), 0)
}

// maxRetryAfter caps the wait a Retry-After may ask for: the pipeline waits it out as
// is, and a bogus header must not park a lane for days.
const maxRetryAfter = time.Hour

// retryAfter parses a Retry-After header (delay in seconds, or an HTTP date), capped at
// maxRetryAfter; 0 when absent, unreadable or not in the future.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}

// redactURL drops the URL from a client error, keeping the operation and the cause.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s: timeout: %w", ue.Op, ue.Err)
		}
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
