package genesis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hooklift/gowsdl/soap"

	"passerelle/connectors"
	"passerelle/connectors/genesis/fichepenale"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one HTTP attempt: GENESIS may take up to 10 s to answer.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = 4
	// DefaultRetryWaitMin is the first backoff.
	DefaultRetryWaitMin = 250 * time.Millisecond
	// DefaultRetryWaitMax caps the backoff, and the Retry-After the client waits out
	// itself.
	DefaultRetryWaitMax = 10 * time.Second
	// DefaultMaxResponseBytes bounds a response body (4 MiB: a full page of 1,000
	// movements is about 350 KiB).
	DefaultMaxResponseBytes = 4 << 20
	// DefaultUserAgent is sent with every request.
	DefaultUserAgent = "passerelle-genesis/1"
)

// Options configure a Client.
type Options struct {
	// URL is the service endpoint, e.g. http://genesis.example/genesis/ws/fichepenale.
	// Required, http or https.
	URL string
	// HTTPClient, when set, lends its Transport (shared, so its keep-alive pool is
	// shared) and, when Timeout is 0, its Timeout. Its redirect policy and cookie jar
	// are not used: the client follows no redirect. Default: a Transport of the
	// Client's own (closed by Close).
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt, body included. Default: HTTPClient's Timeout if
	// set, else DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is the number of retries of a transient failure after the first
	// attempt. Default (0): DefaultMaxRetries; negative: no retry.
	MaxRetries int
	// RetryWaitMin and RetryWaitMax bound the backoff between attempts (exponential
	// with jitter). A Retry-After up to RetryWaitMax is waited out; a longer one ends
	// the call with a transient error carrying it (connectors.RetryAfter). Defaults:
	// DefaultRetryWaitMin, DefaultRetryWaitMax.
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// MaxResponseBytes bounds a response body; a larger one is a permanent
	// ErrResponseTooLarge. Default: DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// UserAgent is sent with every request. Default: DefaultUserAgent.
	UserAgent string
}

// withDefaults fills the zero fields and reports every unusable one.
func (o Options) withDefaults() (Options, error) {
	var problems []string
	u, err := url.Parse(o.URL)
	switch {
	case o.URL == "":
		problems = append(problems, "url: required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		problems = append(problems, "url: must be an absolute http or https URL")
	}
	if o.Timeout == 0 && o.HTTPClient != nil {
		o.Timeout = o.HTTPClient.Timeout
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.RetryWaitMin == 0 {
		o.RetryWaitMin = DefaultRetryWaitMin
	}
	if o.RetryWaitMax == 0 {
		o.RetryWaitMax = max(DefaultRetryWaitMax, o.RetryWaitMin)
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Timeout < 0 {
		problems = append(problems, "timeout: must not be negative")
	}
	if o.RetryWaitMin < 0 || o.RetryWaitMax < 0 {
		problems = append(problems, "retryWaitMin, retryWaitMax: must not be negative")
	}
	if o.RetryWaitMin > o.RetryWaitMax {
		problems = append(problems, "retryWaitMin: must not exceed retryWaitMax")
	}
	if o.MaxResponseBytes < 0 {
		problems = append(problems, "maxResponseBytes: must not be negative")
	}
	if len(problems) > 0 {
		return o, fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
	}
	return o, nil
}

// Client calls GENESIS's FichePenale service through the gowsdl-generated port, over
// one keep-alive HTTP client with retries. It is safe for concurrent use.
type Client struct {
	opts      Options
	port      fichepenale.FichePenalePort
	transport *http.Transport // owned by the Client (nil when Options.HTTPClient lent one)
}

// New returns a Client. It does not contact GENESIS.
func New(opts Options) (*Client, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts}

	var base http.RoundTripper
	if opts.HTTPClient != nil {
		base = opts.HTTPClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
	} else {
		t, ok := http.DefaultTransport.(*http.Transport)
		if ok {
			t = t.Clone()
		} else {
			t = &http.Transport{}
		}
		// One poller and a few concurrent fiche reads: keep their connections.
		t.MaxIdleConnsPerHost = 16
		c.transport = t
		base = t
	}
	httpClient := &http.Client{
		Transport: &limitTransport{base: base, max: opts.MaxResponseBytes},
		Timeout:   opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a SOAP endpoint does not move; a redirect is an error
		},
	}
	retry := &retryablehttp.Client{
		HTTPClient:   httpClient,
		Logger:       nil, // the client logs nothing; errors say what happened
		RetryWaitMin: opts.RetryWaitMin,
		RetryWaitMax: opts.RetryWaitMax,
		RetryMax:     opts.MaxRetries,
		CheckRetry:   c.checkRetry,
		Backoff:      backoff,
		// Give the last response (or error) back as is: doer classifies it.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	sc := soap.NewClient(opts.URL,
		soap.WithHTTPClient(&doer{retry: retry}),
		soap.WithHTTPHeaders(map[string]string{"User-Agent": opts.UserAgent}),
	)
	c.port = fichepenale.NewFichePenalePort(sc)
	return c, nil
}

// Close releases the idle connections of the Client's own transport (a lent
// Options.HTTPClient is left alone). The Client must not be used afterwards.
func (c *Client) Close() error {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
	return nil
}

// ListerMouvements returns the movements after depuis (exclusive), at most max, in
// GENESIS's order, and dernier, the sequence to ask from next time. A repeated
// sequence is a repeat of the same movement (GENESIS may send one again after a
// failover, in the same page or a later one). A movement that breaks the WSDL comes
// back with its Err set, among the good ones. On error, dernier is depuis.
//
// max is sent as is (GENESIS accepts 1..1000 and answers a soap:Client fault
// otherwise). Transient failures are retried within Options' limits and ctx.
func (c *Client) ListerMouvements(ctx context.Context, depuis int64, max int) (mouvements []Mouvement, dernier int64, err error) {
	const op = "ListerMouvements"
	rec := &callRecord{op: op}
	var resp *fichepenale.ListerMouvementsResponse
	err = c.guard(op, rec, func() error {
		var callErr error
		resp, callErr = c.port.ListerMouvementsContext(withRecord(ctx, rec), &fichepenale.ListerMouvements{
			DepuisSequence: depuis,
			NombreMax:      clampInt32(max),
		})
		return callErr
	})
	if err != nil {
		return nil, depuis, c.callError(ctx, op, err, rec)
	}
	mouvements, dernier, err = mouvementsFromResponse(rec.raw, resp, depuis)
	if err != nil {
		return nil, depuis, connectors.Permanent(err)
	}
	return mouvements, dernier, nil
}

// ConsulterFichePenale returns the current state of a fiche. An unknown fiche is a
// permanent *FicheInconnueError (errors.Is(err, ErrFicheInconnue)). Transient failures
// are retried within Options' limits and ctx.
func (c *Client) ConsulterFichePenale(ctx context.Context, numeroEcrou, codeEtablissement string) (*FichePenale, error) {
	const op = "ConsulterFichePenale"
	if strings.TrimSpace(numeroEcrou) == "" || strings.TrimSpace(codeEtablissement) == "" {
		return nil, connectors.Permanent(fmt.Errorf("%w: %s needs a numéro d'écrou and an establishment code", ErrInvalidArgument, op))
	}
	rec := &callRecord{op: op}
	var resp *fichepenale.ConsulterFichePenaleResponse
	err := c.guard(op, rec, func() error {
		var callErr error
		resp, callErr = c.port.ConsulterFichePenaleContext(withRecord(ctx, rec), &fichepenale.ConsulterFichePenale{
			NumeroEcrou:       numeroEcrou,
			CodeEtablissement: codeEtablissement,
		})
		return callErr
	})
	if err != nil {
		return nil, c.callError(ctx, op, err, rec)
	}
	f, err := fichePenaleFromResponse(rec.raw, resp)
	if err != nil {
		return nil, connectors.Permanent(err)
	}
	if f.NumeroEcrou != numeroEcrou || f.CodeEtablissement != codeEtablissement {
		return nil, connectors.Permanent(&InvalidResponseError{Operation: op,
			Reason: "the fiche answered is not the fiche asked for", Raw: rec.raw})
	}
	return f, nil
}

// guard runs a generated call and turns a panic inside soap.Client's decoding into an
// invalid response: the response is what made it panic, and one bad answer must not
// bring the hub down. (hasEnvelopeAttachments prevents the one such panic known.)
func (c *Client) guard(op string, rec *callRecord, call func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = connectors.Permanent(&InvalidResponseError{Operation: op,
				Reason: "the SOAP library failed on this response", Raw: rec.raw})
		}
	}()
	return call()
}

// callError turns what the generated call returned into the Client's error.
func (c *Client) callError(ctx context.Context, op string, err error, rec *callRecord) error {
	var fault *soap.SOAPFault
	switch {
	case errors.As(err, &fault):
		// A fault sent with HTTP 200 (SOAP 1.1 says 500): soap.Client decoded it,
		// without its detail; classify it from the body like any other.
		if f, ok := parseFault(rec.raw); ok {
			return fmt.Errorf("genesis: %s: %w", op, classifyFault(f, http.StatusOK, 0).err)
		}
		return connectors.Permanent(&InvalidResponseError{Operation: op, Reason: "unreadable SOAP fault", Raw: rec.raw})
	case errors.Is(err, connectors.ErrTransient) || errors.Is(err, connectors.ErrPermanent):
		return fmt.Errorf("genesis: %s: %w", op, err)
	case ctx.Err() != nil:
		// The caller's context ended, during an attempt or a backoff: say so, with
		// what the last attempt met (so a caller that gave up on an unavailable
		// GENESIS still sees a transient error).
		if rec.last != nil {
			return fmt.Errorf("genesis: %s: %w (last attempt: %w)", op, ctx.Err(), rec.last)
		}
		return fmt.Errorf("genesis: %s: %w", op, ctx.Err())
	case rec.raw != nil:
		// soap.Client could not decode a 200 response.
		return connectors.Permanent(&InvalidResponseError{Operation: op, Reason: describeDecodeError(err), Raw: rec.raw, cause: err})
	default:
		// The request could not be built: a defect, not GENESIS's doing.
		return connectors.Permanent(fmt.Errorf("genesis: %s: %w", op, err))
	}
}

// clampInt32 converts n to xs:int, saturating: an out-of-range value stays out of
// range (GENESIS refuses it) instead of wrapping into a valid one.
func clampInt32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < math.MinInt32:
		return math.MinInt32
	}
	return int32(n)
}
