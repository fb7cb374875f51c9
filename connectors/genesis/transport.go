package genesis

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"passerelle/connectors"
)

// callRecord follows one call through the layers soap.Client puts between the Client
// and HTTP: the retry policy notes each attempt's failure, the doer keeps the final
// response body. It travels in the request's context and is used by one goroutine at
// a time (retryablehttp's attempts are sequential).
type callRecord struct {
	// op is the operation called (ListerMouvements, ConsulterFichePenale).
	op string
	// raw is the body of the latest response, whatever its status (nil after an
	// attempt that got none).
	raw []byte
	// last is the classified error of the last failed attempt.
	last error
}

type recordKey struct{}

// withRecord returns ctx carrying rec.
func withRecord(ctx context.Context, rec *callRecord) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// recordFrom returns the call's record, or a throwaway one.
func recordFrom(ctx context.Context) *callRecord {
	if rec, ok := ctx.Value(recordKey{}).(*callRecord); ok {
		return rec
	}
	return &callRecord{}
}

// limitTransport reads every response body in full, up to max bytes, inside the
// attempt: a body that fails or stalls half-way is a failed attempt the retry policy
// sees (and http.Client.Timeout bounds), and a body above the limit is refused
// before anything parses it. The bytes go to the call's record (http.Client wraps the
// body it returns, so they could not be found on the response): the retry policy
// classifies the attempt from them, and the Client keeps them as Raw.
type limitTransport struct {
	base http.RoundTripper
	max  int64
}

// RoundTrip sends req and buffers the response body.
func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := recordFrom(req.Context())
	rec.raw = nil
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%w: Content-Length %d above the limit of %d bytes", ErrResponseTooLarge, resp.ContentLength, t.max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, t.max+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	if int64(len(data)) > t.max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, t.max)
	}
	rec.raw = data
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// doer is the HTTP client soap.Client calls. It keeps connections alive (soap.Client
// sets req.Close on every request), retries through retryablehttp, and hands soap.Client
// only HTTP 200 responses: every other outcome becomes the Client's own classified
// error here, so soap.Client never builds a *soap.HTTPError (whose text would quote
// the whole body, personal data included).
type doer struct {
	retry *retryablehttp.Client
}

// Do sends one SOAP request with retries.
func (d *doer) Do(req *http.Request) (*http.Response, error) {
	// soap.Client asks for a new connection per call; GENESIS is polled all day long.
	req.Close = false
	// Both operations are reads: net/http may replay them by itself on a keep-alive
	// connection that the server closed before answering. A nil value marks the
	// request idempotent without sending the header.
	req.Header["Idempotency-Key"] = nil
	rec := recordFrom(req.Context())

	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, connectors.Permanent(fmt.Errorf("genesis: prepare request: %w", err))
	}
	resp, err := d.retry.Do(rreq)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, classifyTransportError(err)
	}
	if resp.StatusCode == http.StatusOK {
		if media, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || !isXMLMedia(media) {
			_ = resp.Body.Close()
			return nil, connectors.Permanent(&InvalidResponseError{Operation: rec.op, Reason: "Content-Type is not XML", Raw: rec.raw})
		}
		// soap.Client would take a multipart Content-Type for MTOM or MIME attachments,
		// which this service never sends.
		resp.Header.Set("Content-Type", "text/xml; charset=utf-8")
		if hasEnvelopeAttachments(rec.raw) {
			_ = resp.Body.Close()
			return nil, connectors.Permanent(&InvalidResponseError{Operation: rec.op,
				Reason: "the envelope carries an attachments element the service never sends", Raw: rec.raw})
		}
		return resp, nil
	}
	_ = resp.Body.Close()
	return nil, classifyResponse(resp.StatusCode, resp.Header, rec.raw).err
}

// isXMLMedia reports whether a media type can carry a SOAP 1.1 envelope.
func isXMLMedia(media string) bool {
	return media == "text/xml" || media == "application/xml" || media == "application/soap+xml"
}

// hasEnvelopeAttachments reports whether raw has an <attachments> element directly
// under the envelope. soap.Client (v0.5.0) decodes it into SOAPEnvelopeResponse and
// then writes it through a nil pointer when the call asked for no attachments: a panic.
func hasEnvelopeAttachments(raw []byte) bool {
	if !bytes.Contains(raw, []byte("attachments")) {
		return false
	}
	var env struct {
		Attachments []struct{} `xml:"attachments"`
	}
	if err := xml.Unmarshal(raw, &env); err != nil {
		return false // soap.Client's decoding fails too, without panicking
	}
	return len(env.Attachments) > 0
}

// outcome is the classification of one HTTP response.
type outcome struct {
	err        error
	transient  bool
	retryAfter time.Duration
}

// classifyResponse classifies a non-200 response: a SOAP fault by its detail and
// code, anything else by its HTTP status.
func classifyResponse(status int, header http.Header, body []byte) outcome {
	retryAfter := parseRetryAfter(header.Get("Retry-After"), time.Now())
	if f, ok := parseFault(body); ok {
		return classifyFault(f, status, retryAfter)
	}
	switch {
	case status == http.StatusServiceUnavailable:
		// The front proxy under load, without a SOAP body.
		return transientOutcome(fmt.Errorf("%w (HTTP 503)", ErrServiceIndisponible), retryAfter)
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		// A proxy or server failure without a fault, a rate limit, a timeout: GENESIS
		// (or the way to it) is unwell, not our request.
		return transientOutcome(&StatusError{StatusCode: status}, retryAfter)
	case status == http.StatusOK:
		return outcome{}
	default:
		// 4xx: the request is wrong where it is sent (URL, method, media type); 1xx,
		// 3xx (redirects are not followed) and other 2xx are not in the contract. No
		// retry changes them.
		return outcome{err: connectors.Permanent(&StatusError{StatusCode: status})}
	}
}

// transientOutcome marks err transient, with the delay the server asked for.
func transientOutcome(err error, retryAfter time.Duration) outcome {
	return outcome{err: connectors.Transient(err, retryAfter), transient: true, retryAfter: retryAfter}
}

// classifyFault classifies a SOAP fault; see FaultError.Transient for the reasons.
func classifyFault(f *soapFault, status int, retryAfter time.Duration) outcome {
	switch {
	case f.Detail.FicheInconnue != nil:
		return outcome{err: connectors.Permanent(&FicheInconnueError{
			NumeroEcrou:       strings.TrimSpace(f.Detail.FicheInconnue.NumeroEcrou),
			CodeEtablissement: strings.TrimSpace(f.Detail.FicheInconnue.CodeEtablissement),
		})}
	case f.Detail.ServiceIndisponible != nil || status == http.StatusServiceUnavailable:
		return transientOutcome(fmt.Errorf("%w (HTTP %d)", ErrServiceIndisponible, status), retryAfter)
	}
	fe := &FaultError{StatusCode: status, Code: strings.TrimSpace(f.Code), String: f.String}
	switch faultClass(fe.Code) {
	case "Client", "VersionMismatch", "MustUnderstand":
		fe.Transient = false
	case "Server":
		fe.Transient = true
	default:
		fe.Transient = status >= 500
	}
	if fe.Transient {
		return transientOutcome(fe, retryAfter)
	}
	return outcome{err: connectors.Permanent(fe)}
}

// faultClass returns the SOAP 1.1 class of a faultcode: its local name (after the
// namespace prefix) up to the first dot ("soap:Client.Auth" → "Client").
func faultClass(code string) string {
	if i := strings.LastIndexByte(code, ':'); i >= 0 {
		code = code[i+1:]
	}
	class, _, _ := strings.Cut(code, ".")
	return class
}

// soapFault is a SOAP 1.1 fault with the two details the WSDL declares.
type soapFault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		FicheInconnue *struct {
			NumeroEcrou       string `xml:"numeroEcrou"`
			CodeEtablissement string `xml:"codeEtablissement"`
		} `xml:"urn:justice:genesis:fichepenale:v1 FicheInconnue"`
		ServiceIndisponible *struct {
			Message string `xml:"message"`
		} `xml:"urn:justice:genesis:fichepenale:v1 ServiceIndisponible"`
	} `xml:"detail"`
}

// parseFault reads the SOAP fault in body, if body is a SOAP envelope holding one.
func parseFault(body []byte) (*soapFault, bool) {
	if len(body) == 0 {
		return nil, false
	}
	var env struct {
		XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
		Body    struct {
			Fault *soapFault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal(body, &env); err != nil || env.Body.Fault == nil {
		return nil, false
	}
	return env.Body.Fault, true
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// transportTransient reports whether a failed attempt (no response) is worth
// retrying: a connection refused or reset, a timeout, a body cut short are; a response
// above the size limit and a TLS certificate GENESIS's server cannot prove are not
// (both need a person to change something).
func transportTransient(err error) bool {
	if errors.Is(err, ErrResponseTooLarge) {
		return false
	}
	var unknownAuthority x509.UnknownAuthorityError
	var invalidCert x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verification *tls.CertificateVerificationError
	if errors.As(err, &unknownAuthority) || errors.As(err, &invalidCert) ||
		errors.As(err, &hostname) || errors.As(err, &verification) {
		return false
	}
	return true
}

// classifyTransportError marks a failed attempt's error.
func classifyTransportError(err error) error {
	err = fmt.Errorf("genesis: call: %w", err)
	if transportTransient(err) {
		return connectors.Transient(err, 0)
	}
	return connectors.Permanent(err)
}

// checkRetry is the retry policy: retry what is transient (503 and ServiceIndisponible,
// soap:Server faults, 5xx without a fault, timeouts, connection errors), never a
// permanent answer (FicheInconnue, other soap:Client faults, 4xx, a response too
// large), never beyond the caller's context, and not when GENESIS asks to wait longer
// than RetryWaitMax: the caller then gets a transient error carrying that delay and
// backs off itself.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	rec := recordFrom(ctx)
	if err != nil {
		rec.last = classifyTransportError(err)
		return transportTransient(err), nil
	}
	if resp.StatusCode == http.StatusOK {
		return false, nil
	}
	o := classifyResponse(resp.StatusCode, resp.Header, rec.raw)
	rec.last = o.err
	if !o.transient || o.retryAfter > c.opts.RetryWaitMax {
		return false, nil
	}
	return true, nil
}

// backoff is the wait before retry attempt+1: the server's Retry-After when it sent
// one (checkRetry has made sure it is at most max), else exponential from min, capped
// at max, with equal jitter (half fixed, half random) so that callers that failed
// together do not retry together.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); d > 0 {
			return d
		}
	}
	d := minWait
	for range attempt {
		if d >= maxWait/2 {
			d = maxWait
			break
		}
		d *= 2
	}
	d = min(d, maxWait)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1) //nolint:gosec // G404: jitter spreads retries; it needs no unpredictability

}
