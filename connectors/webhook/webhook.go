package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/pipeline/policy"
)

// Config is the webhook sink's settings.
type Config struct {
	// URL receives the POSTs. Required.
	URL string `yaml:"url"`
	// Recipient is who is behind the endpoint, for the data-protection policy
	// (probation, enforcement, prosecution, prison, other). Required.
	Recipient string `yaml:"recipient"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Token, when set, is sent as a Bearer token.
	Token config.Secret `yaml:"token"`
	// NewestWins says that the endpoint keeps, for each fact, the highest version it
	// received as current, whatever the order they arrive in (connectors.NewestWins):
	// the hub then skips a version when a newer one of the same fact is already
	// waiting. Default false: every version is sent, in order.
	NewestWins bool `yaml:"newestWins"`
}

// Spec registers the webhook sink.
var Spec = connectors.Spec{
	Kind:    "webhook",
	Summary: "sink: POST canonical messages as CloudEvents JSON to an HTTP endpoint, with Idempotency-Key",
	New:     newInstance,
}

func newInstance(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
	var c Config
	ps := config.DecodeSettings(settings, &c, path)
	if c.URL == "" {
		ps.Add(path+".url", "required")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(path+".url", "must be an http(s) URL")
	}
	if !slices.Contains(policy.RecipientKinds, c.Recipient) {
		ps.Add(path+".recipient", "must be one of %v", policy.RecipientKinds)
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	var token string
	if !c.Token.IsZero() {
		c.Token.Check(path+".token", env.Getenv, &ps)
		token, _ = c.Token.Resolve(env.Getenv)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	client := env.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	s := &Sink{url: c.URL, token: token, client: &http.Client{Transport: client.Transport, Timeout: c.Timeout}, newestWins: c.NewestWins}
	return &connectors.Instance{Sink: s, Recipient: c.Recipient}, nil
}

// Sink posts messages to one endpoint. It is safe for concurrent use.
type Sink struct {
	url        string
	token      string
	client     *http.Client
	newestWins bool
}

// New returns a sink posting to url with client.
func New(url string, client *http.Client) *Sink { return &Sink{url: url, client: client} }

// NewestWins reports whether the endpoint was declared to keep the newest version.
func (s *Sink) NewestWins() bool { return s.newestWins }

// Deliver posts one message.
func (s *Sink) Deliver(ctx context.Context, d connectors.Delivery) (connectors.Receipt, error) {
	body, err := json.Marshal(d.Message)
	if err != nil {
		return connectors.Receipt{}, connectors.Permanent(fmt.Errorf("webhook: encode: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return connectors.Receipt{}, connectors.Permanent(fmt.Errorf("webhook: %w", err))
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Idempotency-Key", d.IdempotencyKey)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return connectors.Receipt{}, connectors.Transient(fmt.Errorf("webhook: %w", redactURL(err)), 0)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return connectors.Receipt{}, connectors.Transient(fmt.Errorf("webhook: read answer: %w", err), 0)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		rc := connectors.Receipt{ID: resp.Header.Get("Location")}
		var ack struct {
			ID string `json:"id"`
		}
		if json.Valid(raw) {
			rc.Detail = raw
			if json.Unmarshal(raw, &ack) == nil && ack.ID != "" {
				rc.ID = ack.ID
			}
		}
		return rc, nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooEarly,
		resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return connectors.Receipt{}, connectors.Transient(fmt.Errorf("webhook: HTTP %d", resp.StatusCode), retryAfter(resp.Header.Get("Retry-After")))
	default:
		var problem struct {
			Title string `json:"title"`
		}
		_ = json.Unmarshal(raw, &problem)
		msg := fmt.Sprintf("webhook: refused with HTTP %d", resp.StatusCode)
		if problem.Title != "" {
			msg += ": " + truncate(problem.Title, 200)
		}
		return connectors.Receipt{}, connectors.Permanent(errors.New(msg))
	}
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// redactURL drops the URL from a client error (it may carry a token in its query).
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
