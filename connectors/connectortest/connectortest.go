package connectortest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// InstanceName is the name the suite gives the connector instance: problems are
// expected under InstancePath.
const InstanceName = "under-test"

// InstancePath is the configuration path of the instance (connectors.<name>).
const InstancePath = "connectors." + InstanceName

// PlaceholderSubject stands for the canonical person id the pipeline resolves before
// it validates a message whose subject the connector left empty.
const PlaceholderSubject = "00000000-0000-4000-8000-000000000001"

// Liveness bounds every wait of the suite: a call that has not returned by then is
// taken as hung. It is a guard against deadlocks, not a performance limit.
const Liveness = 20 * time.Second

// System is an external system (or its simulator) started for one check.
type System struct {
	// Settings point the connector at the system (connectors.<name> without kind).
	Settings map[string]any
	// Calls, when set, returns the number of requests the system has received, to
	// prove that building the instance does not contact it.
	Calls func() int64
	// SetLatency, when set, makes the system take d before answering each request
	// (0: answer at once), to check cancellation of a call in progress. The system
	// must stop waiting when the caller gives up (the request's context ends).
	SetLatency func(d time.Duration)
	// Fail, when set, makes the system answer every request with f from now on
	// (NoFault: normally again), for the error-class checks: a transient failure must
	// come back as retryable, a permanent refusal (sinks) as permanent and at once.
	Fail func(f Fault)
}

// BadSettings are broken settings the connector must refuse.
type BadSettings struct {
	// Name says what is broken, as a sentence ("a page size of 0").
	Name string
	// Settings are the whole settings (without kind).
	Settings map[string]any
	// Path is where the problem must be reported, relative to the instance
	// ("url" for connectors.<name>.url); "" accepts any path under the instance.
	Path string
}

// env returns the Env the hub would give the instance, logging into an observer at
// debug level, with an HTTP client of its own whose idle connections are closed when
// the test ends (the hub owns that client; the instance must not need it closed).
func env(t *testing.T) (connectors.Env, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	return connectors.Env{
		Name:       InstanceName,
		Logger:     zap.New(core).Named(InstanceName),
		Getenv:     func(string) string { return "" },
		HTTPClient: &http.Client{Transport: transport, Timeout: time.Minute},
	}, logs
}

// build calls spec.New with settings and fails the test on problems; Close runs at the
// end of the test.
func build(t *testing.T, spec connectors.Spec, e connectors.Env, settings map[string]any) *connectors.Instance {
	t.Helper()
	inst, ps := spec.New(e, settings, InstancePath)
	require.Empty(t, ps, "valid settings refused")
	require.NotNil(t, inst, "no instance built from valid settings")
	t.Cleanup(func() {
		if inst.Close != nil {
			require.NoError(t, inst.Close(), "closing the instance")
		}
	})
	return inst
}

// buildWithoutContact builds the instance from valid settings and checks, when calls
// counts the system's requests, that building it made none.
func buildWithoutContact(t *testing.T, spec connectors.Spec, settings map[string]any, calls func() int64) *connectors.Instance {
	t.Helper()
	e, _ := env(t)
	var before int64
	if calls != nil {
		before = calls()
	}
	inst := build(t, spec, e, settings)
	if calls != nil {
		assert.Equal(t, before, calls(), "%s: building the instance called the system", RuleNoContactAtBuild)
	}
	return inst
}

// runSpecChecks runs the checks every kind of connector passes first: a usable spec,
// and broken settings refused with problems at their paths.
func runSpecChecks(t *testing.T, spec connectors.Spec, bad []BadSettings) {
	t.Helper()
	t.Run("the spec names a kind, a summary and a constructor", func(t *testing.T) {
		require.NoError(t, checkSpec(spec))
	})
	t.Run("broken settings are refused with problems at their paths", func(t *testing.T) {
		e, _ := env(t)
		for _, b := range bad {
			assert.NoError(t, ruleErr(RuleConfigPaths, checkBadSettings(spec, e, b)), "%s", b.Name)
		}
	})
}

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// checkSpec checks what the registry and `passerelle connectors` need of a spec.
func checkSpec(spec connectors.Spec) error {
	switch {
	case !kindPattern.MatchString(spec.Kind):
		return fmt.Errorf("kind %q is not a lower-case name", spec.Kind)
	case strings.TrimSpace(spec.Summary) == "":
		return errors.New("the spec has no summary")
	case spec.New == nil:
		return errors.New("the spec has no constructor")
	}
	return nil
}

// checkBadSettings builds the instance from broken settings and reports what is
// wrong with the answer.
func checkBadSettings(spec connectors.Spec, e connectors.Env, bad BadSettings) error {
	inst, ps := spec.New(e, bad.Settings, InstancePath)
	if len(ps) == 0 {
		return errors.New("accepted")
	}
	if inst != nil {
		if inst.Close != nil {
			_ = inst.Close()
		}
		return errors.New("problems reported, but an instance was built as well")
	}
	want := InstancePath
	if bad.Path != "" {
		want += "." + bad.Path
	}
	found := false
	for _, p := range ps {
		if p.Path != InstancePath && !strings.HasPrefix(p.Path, InstancePath+".") {
			return fmt.Errorf("problem %q is not under %s", p.String(), InstancePath)
		}
		if strings.TrimSpace(p.Message) == "" {
			return fmt.Errorf("problem at %s has no message", p.Path)
		}
		found = found || bad.Path == "" || p.Path == want
	}
	if !found {
		return fmt.Errorf("no problem at %s among %v", want, paths(ps))
	}
	return nil
}

// paths lists the paths of problems.
func paths(ps config.Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path
	}
	return out
}

// EnvelopeDoc is the structured CloudEvent of m as the pipeline validates it
// (pipeline/ingest.go): data decoded strictly, the time in UTC, and the subject the
// pipeline would have resolved (PlaceholderSubject when m has none).
func EnvelopeDoc(m *canonical.Message) (map[string]any, error) {
	data, err := jsonstrict.Decode(m.Data)
	if err != nil {
		return nil, fmt.Errorf("data of %s is not JSON: %w", m.FactRef, err)
	}
	subject := m.Subject
	if subject == "" {
		subject = PlaceholderSubject
	}
	doc := map[string]any{
		"specversion": m.SpecVersion, "id": m.ID, "source": m.Source, "type": m.Type,
		"time": m.Time.UTC().Format(time.RFC3339Nano), "subject": subject,
		"dataschema": m.DataSchema, "factsystem": m.FactSystem, "factref": m.FactRef,
		"factversion": json.Number(fmt.Sprint(m.FactVersion)), "data": data,
	}
	if m.DataContentType != "" {
		doc["datacontenttype"] = m.DataContentType
	}
	return doc, nil
}

// ValidateMessage checks m against the canonical schemas as the pipeline will.
func ValidateMessage(reg *schemas.Registry, m *canonical.Message) error {
	doc, err := EnvelopeDoc(m)
	if err != nil {
		return err
	}
	if err := reg.Validate(doc); err != nil {
		return fmt.Errorf("%s %s version %d: %w", m.Type, m.FactRef, m.FactVersion, err)
	}
	return nil
}

// registry loads the canonical schemas.
func registry(t *testing.T) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load()
	require.NoError(t, err)
	return reg
}

// checkLogs reports a log entry (message, logger name or any field) that contains a
// canary.
func checkLogs(logs *observer.ObservedLogs, canaries []string) error {
	for _, e := range logs.All() {
		texts := []string{e.Message, e.LoggerName}
		for k, v := range e.ContextMap() {
			texts = append(texts, k, fmt.Sprint(v))
		}
		for _, text := range texts {
			if c, ok := containsCanary(text, canaries); ok {
				return fmt.Errorf("a %s log entry %q carries the canary %q", e.Level, e.Message, c)
			}
		}
	}
	return nil
}

// containsCanary returns the first canary found in text.
func containsCanary(text string, canaries []string) (string, bool) {
	for _, c := range canaries {
		if c != "" && strings.Contains(text, c) {
			return c, true
		}
	}
	return "", false
}

// within runs f and fails the test when it has not returned after Liveness.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(Liveness):
		t.Fatalf("%s has not returned after %s: it hangs", what, Liveness)
	}
}
