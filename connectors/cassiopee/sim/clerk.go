package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"passerelle/connectors/cassiopee"
)

// Clerk is a court clerk's workstation: it sends decisions to the intake with its
// court's client certificate, and reads receipts. It is safe for concurrent use.
type Clerk struct {
	base   string
	client *http.Client
}

// NewClerk returns a workstation that talks to the intake at baseURL
// (https://127.0.0.1:8443) with cert, trusting roots for the server. A zero cert
// sends no client certificate (to test the refusal).
func NewClerk(baseURL string, cert tls.Certificate, roots *x509.CertPool) *Clerk {
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if len(cert.Certificate) > 0 {
		// A workstation has one certificate: it sends it whatever authorities the
		// server names (so that a certificate of another authority reaches the intake,
		// as it would from curl).
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: true, IdleConnTimeout: 30 * time.Second}
	return &Clerk{base: strings.TrimSuffix(baseURL, "/"), client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Close releases the workstation's connections.
func (c *Clerk) Close() { c.client.CloseIdleConnections() }

// Answer is what the intake answered.
type Answer struct {
	// Status is the HTTP status.
	Status int
	// ContentType is the answer's media type.
	ContentType string
	// Receipt is the body of a 200 or 202.
	Receipt *cassiopee.Receipt
	// Problem is the body of an error (application/problem+json).
	Problem *cassiopee.ProblemDetails
	// Body is the body as received.
	Body []byte
}

// Send POSTs one decision body. An error means no HTTP answer (a refused handshake,
// a network failure).
func (c *Clerk) Send(ctx context.Context, body []byte) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+cassiopee.PathDecisions, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("cassiopee sim: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return c.do(req)
}

// Receipt GETs a receipt.
func (c *Clerk) Receipt(ctx context.Context, id string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+cassiopee.PathReceipts+id, nil)
	if err != nil {
		return Answer{}, fmt.Errorf("cassiopee sim: %w", err)
	}
	return c.do(req)
}

func (c *Clerk) do(req *http.Request) (Answer, error) {
	resp, err := c.client.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("cassiopee sim: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return Answer{}, fmt.Errorf("cassiopee sim: read answer: %w", err)
	}
	a := Answer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted:
		var r cassiopee.Receipt
		if err := json.Unmarshal(body, &r); err != nil {
			return a, fmt.Errorf("cassiopee sim: receipt: %w", err)
		}
		a.Receipt = &r
	case strings.HasPrefix(a.ContentType, "application/problem+json"):
		var p cassiopee.ProblemDetails
		if err := json.Unmarshal(body, &p); err != nil {
			return a, fmt.Errorf("cassiopee sim: problem: %w", err)
		}
		a.Problem = &p
	}
	return a, nil
}

// RunOptions configure Run, the demo's clerk.
type RunOptions struct {
	// URL is the intake's base URL. Required.
	URL string
	// Certs is the PKI GenerateCerts wrote. Required.
	Certs *CertSet
	// Court is the court whose clerk sends; default Courts[0].
	Court Court
	// Interval between two sendings. Default 2s.
	Interval time.Duration
	// Seed of the generator. Default 1.
	Seed uint64
	// Report, when set, receives one line per sending: the numéro parquet, the
	// transmission, what was sent and the status (no personal data).
	Report func(line string)
}

// Run is a clerk at work until ctx ends: mostly new decisions, now and then a
// corrected re-transmission of an earlier one, and 1 in 8 a mistake, which the intake
// refuses with a problem naming the field.
func Run(ctx context.Context, o RunOptions) error {
	if o.Court.Code == "" {
		o.Court = Courts[0]
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	kp, ok := o.Certs.Courts[o.Court.Code]
	if !ok {
		return fmt.Errorf("cassiopee sim: no certificate for court %s", o.Court.Code)
	}
	cert, err := kp.Load()
	if err != nil {
		return err
	}
	roots, err := cassiopee.LoadCertPool(o.Certs.CAFile)
	if err != nil {
		return fmt.Errorf("cassiopee sim: %w", err)
	}
	clerk := NewClerk(o.URL, cert, roots)
	defer clerk.Close()
	g := NewGenerator(o.Seed, o.Court)
	var sent []*cassiopee.Decision
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for n := 0; ; n++ {
		var d *cassiopee.Decision
		what := "nouvelle décision"
		switch {
		case n%8 == 7 && len(sent) > 0:
			kind := Mistakes[(n/8)%len(Mistakes)]
			d, what = g.Mistake(sent[len(sent)-1], kind), "erreur : "+kind
		case n%5 == 4 && len(sent) > 0:
			i := len(sent) - 1 - n%len(sent)
			d = g.Retransmit(sent[i])
			sent[i], what = d, "re-transmission"
		default:
			d = g.Decision()
			sent = append(sent, d)
		}
		a, err := clerk.Send(ctx, Body(d))
		if ctx.Err() != nil {
			return nil
		}
		if o.Report != nil {
			status := fmt.Sprint(a.Status)
			if err != nil {
				status = "pas de réponse"
			}
			o.Report(fmt.Sprintf("parquet %s transmission %d (%s, %d prévenu(s)): %s", d.Jugement.NumeroParquet,
				d.NumeroTransmission, what, len(d.Prevenus), status))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
