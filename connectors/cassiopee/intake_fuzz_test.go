package cassiopee

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/connectors"
)

// recordingHost is a connectors.Host that accepts everything and remembers it.
type recordingHost struct {
	mu     sync.Mutex
	pushes []connectors.Push
	audits []connectors.AuditEntry
}

func (h *recordingHost) Accept(_ context.Context, p connectors.Push) (connectors.Pushed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pushes = append(h.pushes, p)
	r := connectors.PushReceipt{ID: "00000000-0000-4000-8000-000000000001", Caller: p.Caller}
	for i, m := range p.Facts[0].Messages {
		r.Messages = append(r.Messages, connectors.PushMessage{Index: i, MessageID: m.ID, State: connectors.StateAccepted})
	}
	return connectors.Pushed{ReceiptID: r.ID, Receipt: r}, nil
}

func (h *recordingHost) Receipt(context.Context, string, string) (connectors.PushReceipt, error) {
	return connectors.PushReceipt{}, connectors.ErrNoReceipt
}

func (h *recordingHost) Audit(_ context.Context, e connectors.AuditEntry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.audits = append(h.audits, e)
	return nil
}

// FuzzIntake posts any body as a Lyon clerk (the TLS layer already passed): the intake
// never panics and answers 202 with one message per prévenu, 403 for another court's
// decision, or 422 with a problem per violation, each naming a rule; its audit rows
// never carry a value of the body.
func FuzzIntake(f *testing.F) {
	for _, name := range examples {
		f.Add(exampleBody(f, name))
	}
	f.Add([]byte(`{"versionFormat":"3","versionFormat":"3"}`))
	f.Add([]byte(`{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`))
	f.Add(bytes.Replace(exampleBody(f, exampleProbation), []byte("14/03/2024"), []byte("31/02/2024"), 1))
	f.Add(bytes.Replace(exampleBody(f, exampleProbation), []byte(`"8M"`), []byte(`"0A0M0J"`), 1))
	host := &recordingHost{}
	h := newHandler(&Intake{o: IntakeOptions{MaxBodyBytes: MaxBodyBytes, Logger: zap.NewNop(), Now: func() time.Time { return fixedNow }}}, host)
	routes := h.routes()
	peer := &x509.Certificate{Raw: []byte("test"), URIs: []*url.URL{CourtURI("690123")}}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, PathDecisions, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{peer}}
		w := httptest.NewRecorder()
		host.mu.Lock()
		before := len(host.audits)
		host.mu.Unlock()
		routes.ServeHTTP(w, req)
		// Written now rather than counted: with a flush after each request, every
		// refusal is the first of its reference, audited at once.
		h.refusals.flush(t.Context())
		switch w.Code {
		case http.StatusAccepted:
			var r Receipt
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
			d, _, err := Decode(body)
			require.NoError(t, err)
			require.Len(t, r.Messages, len(d.Prevenus))
		case http.StatusForbidden, http.StatusUnprocessableEntity:
			require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			var p ProblemDetails
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			require.Equal(t, w.Code, p.Status)
			if w.Code == http.StatusUnprocessableEntity {
				require.NotEmpty(t, p.Errors)
				for _, e := range p.Errors {
					require.NotEmpty(t, e.Rule)
					require.NotEmpty(t, e.Detail)
				}
				host.mu.Lock()
				audits := host.audits[before:]
				host.mu.Unlock()
				require.Len(t, audits, 1, "the refusal is audited")
				for _, e := range p.Errors {
					if e.Pointer == "" || len(e.Detail) < 12 {
						continue
					}
					require.NotContains(t, audits[0].Reference, e.Detail)
				}
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}

// countingReader counts what is read from it: a body of n zero bytes.
type countingReader struct{ n, read int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.read >= c.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), c.n-c.read)
	clear(p[:k])
	c.read += k
	return int(k), nil
}

func TestA100MBBodyIsRefusedAfterTheLimitWithoutBeingRead(t *testing.T) {
	h := newHandler(&Intake{o: IntakeOptions{MaxBodyBytes: MaxBodyBytes, Logger: zap.NewNop(), Now: time.Now}}, &recordingHost{})
	body := &countingReader{n: 100 << 20}
	req := httptest.NewRequest(http.MethodPost, PathDecisions, body)
	req.Header.Set("Content-Type", "application/json")
	req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: []byte("test"), URIs: []*url.URL{CourtURI("690123")}}}}
	w := httptest.NewRecorder()
	h.routes().ServeHTTP(w, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	require.LessOrEqual(t, body.read, int64(MaxBodyBytes+64<<10), "the rest of the body is never read")
}
