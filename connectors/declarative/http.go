package declarative

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
)

// httpSource polls a JSON endpoint. Its position is the endpoint's own cursor, so a
// new instance resumes from the checkpoint alone.
type httpSource struct {
	cfg    *HTTPConfig
	m      *mapper
	batch  int
	log    *zap.Logger
	client *http.Client
	token  string
}

func newHTTPSource(cfg *HTTPConfig, env connectors.Env, m *mapper, batch int, log *zap.Logger) *httpSource {
	base := env.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	token := ""
	if !cfg.Token.IsZero() {
		token, _ = cfg.Token.Resolve(env.Getenv) // checked by newInstance
	}
	return &httpSource{cfg: cfg, m: m, batch: batch, log: log, token: token,
		client: &http.Client{Transport: base.Transport, Timeout: cfg.Timeout}}
}

func (s *httpSource) close() error { return nil }

// Read calls the endpoint with the position as cursor. 5xx, 408, 429 and network
// errors are transient (Retry-After honoured); another status, or an answer that is
// not the configured object, is permanent (the pipeline still backs off and calls
// again: a source's data cannot be quarantined before it is read).
func (s *httpSource) Read(ctx context.Context, at string) (connectors.Batch, error) {
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return connectors.Batch{}, connectors.Permanent(fmt.Errorf("%w: %w", ErrHTTP, err))
	}
	if at != "" {
		q := u.Query()
		q.Set(s.cfg.Cursor, at)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return connectors.Batch{}, connectors.Permanent(fmt.Errorf("%w: %w", ErrHTTP, err))
	}
	req.Header.Set("Accept", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	polled := time.Now().UTC()
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return connectors.Batch{}, ctx.Err()
		}
		return connectors.Batch{}, connectors.Transient(fmt.Errorf("%w: call failed", ErrHTTP), 0)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return connectors.Batch{}, ctx.Err()
		}
		return connectors.Batch{}, connectors.Transient(fmt.Errorf("%w: read the answer", ErrHTTP), 0)
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return connectors.Batch{}, connectors.Transient(fmt.Errorf("%w: HTTP %d", ErrHTTP, resp.StatusCode), retryAfter(resp.Header.Get("Retry-After")))
	case resp.StatusCode != http.StatusOK:
		return connectors.Batch{}, connectors.Permanent(fmt.Errorf("%w: HTTP %d", ErrHTTP, resp.StatusCode))
	case len(body) > MaxResponseBytes:
		return connectors.Batch{}, connectors.Permanent(fmt.Errorf("%w: an answer larger than %d bytes", ErrHTTP, MaxResponseBytes))
	}
	var page map[string]json.RawMessage
	if err := json.Unmarshal(body, &page); err != nil {
		return connectors.Batch{}, connectors.Permanent(fmt.Errorf("%w: the answer is not a JSON object", ErrHTTP))
	}
	var items []json.RawMessage
	if raw, ok := page[s.cfg.Items]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &items); err != nil {
			return connectors.Batch{}, connectors.Permanent(fmt.Errorf("%w: the answer's %s is not an array", ErrHTTP, s.cfg.Items))
		}
	}
	var next string
	if raw, ok := page[s.cfg.Next]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &next); err != nil {
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return connectors.Batch{}, connectors.Permanent(fmt.Errorf("%w: the answer's %s is not a string", ErrHTTP, s.cfg.Next))
			}
			next = n.String()
		}
	}
	if next == "" || len(items) == 0 {
		next = at
	}
	if err := ctx.Err(); err != nil {
		return connectors.Batch{}, err
	}
	batch := connectors.Batch{Next: next}
	for i, raw := range items {
		batch.Facts = append(batch.Facts, s.fact(raw, at, i, polled))
	}
	return batch, nil
}

// fact decodes and maps one item.
func (s *httpSource) fact(raw json.RawMessage, at string, i int, polled time.Time) connectors.Fact {
	f := connectors.Fact{Raw: append([]byte(nil), raw...), ContentType: "application/json"}
	obj, err := decodeObject(raw)
	if err != nil {
		f.Err, f.Stage = err, "decode"
		return f
	}
	id, msg, err := s.m.mapRecord(record{row: obj, file: at, line: int64(i + 1)}, polled)
	f.Fact = id
	if err != nil {
		f.Err, f.Stage = err, "map"
		return f
	}
	f.Messages = []*canonical.Message{msg}
	return f
}

// Decode re-reads a quarantined item (replay).
func (s *httpSource) Decode(_ context.Context, raw []byte, _ string) ([]*canonical.Message, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	_, msg, err := s.m.mapRecord(record{row: obj}, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	return []*canonical.Message{msg}, nil
}

// retryAfter parses a Retry-After header given in seconds.
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}
