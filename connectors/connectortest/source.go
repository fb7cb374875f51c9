package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"passerelle/connectors"
	"passerelle/schemas"
)

// SourceHarness is what a source connector's test gives RunSource.
type SourceHarness struct {
	// Spec is the connector's registration (what connectors/builtin lists).
	Spec connectors.Spec
	// Start starts the external system (or its simulator) loaded with the fixture the
	// checks read, and returns how to reach it. It is called once per check that needs a
	// fresh system; stop it with t.Cleanup. The fixture must not change while a check
	// runs, and must hold at least one fact.
	Start func(t *testing.T) System
	// BadSettings are broken settings the connector must refuse (at least one).
	BadSettings []BadSettings
	// Canaries are strings of the fixture's personal data (names, birth dates, free
	// text) that must never appear in a log entry or an error text.
	Canaries []string
	// Golden, when set, is the file holding the canonical messages the fixture maps to
	// (testdata/...json); Update rewrites it instead of comparing.
	Golden string
	Update bool
	// MaxReads bounds the Reads from "" to the end. Default 10,000.
	MaxReads int
	// MaxResumePositions bounds the positions the resume check reads again from
	// (spread evenly over those returned). Default 25.
	MaxResumePositions int
	// MinFailed is the number of facts of the fixture that cannot be decoded or
	// mapped (broken lines, impossible dates): the suite checks that at least that many
	// come back as facts with their error, for quarantine. Default 0 (none required).
	MinFailed int
	// MaxRestartPositions bounds the positions the crash check resumes from with a new
	// instance each. Default 5.
	MaxRestartPositions int
}

// RunSource runs the acceptance checks of a source connector (see the package doc).
func RunSource(t *testing.T, h SourceHarness) {
	t.Helper()
	require.NotNil(t, h.Start, "the harness needs Start")
	require.NotEmpty(t, h.BadSettings, "the harness needs broken settings to prove they are refused")
	if h.MaxReads <= 0 {
		h.MaxReads = 10_000
	}
	if h.MaxResumePositions <= 0 {
		h.MaxResumePositions = 25
	}
	if h.MaxRestartPositions <= 0 {
		h.MaxRestartPositions = 5
	}
	before := goleak.IgnoreCurrent()

	runSpecChecks(t, h.Spec, h.BadSettings)
	t.Run("valid settings build the instance without contacting the system", func(t *testing.T) {
		sys := h.Start(t)
		inst := buildWithoutContact(t, h.Spec, sys.Settings, sys.Calls)
		require.NotNil(t, inst.Source, "a source connector's instance has a Source")
	})
	t.Run("reading", func(t *testing.T) {
		sys := h.Start(t)
		e, logs := env(t)
		inst := build(t, h.Spec, e, sys.Settings)
		reads, err := ReadToEnd(t.Context(), inst.Source, "", h.MaxReads)
		require.NoError(t, err)
		require.NotEmpty(t, Facts(reads), "the fixture gives no fact: the checks would prove nothing")
		require.NoError(t, ruleErr(RuleSchemas, someMessage(Facts(reads))))

		t.Run("resumes from every position with no fact twice and none missing", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleResume, CheckResume(t.Context(), inst.Source, reads, h.MaxReads, h.MaxResumePositions)))
		})
		t.Run("a new instance resumes from the checkpoint alone, as after a crash", func(t *testing.T) {
			newSource := func() (connectors.Source, func(), error) {
				e2, _ := env(t)
				inst2, ps := h.Spec.New(e2, sys.Settings, InstancePath)
				if len(ps) > 0 || inst2 == nil || inst2.Source == nil {
					return nil, nil, fmt.Errorf("valid settings refused the second time: %w", ps.Err())
				}
				return inst2.Source, func() {
					if inst2.Close != nil {
						_ = inst2.Close()
					}
				}, nil
			}
			require.NoError(t, ruleErr(RuleResumeAfterCrash, CheckRestart(t.Context(), newSource, reads, h.MaxReads, h.MaxRestartPositions)))
			t.Run("idempotency keys are stable across restarts", func(t *testing.T) {
				src, release, err := newSource()
				require.NoError(t, err)
				defer release()
				again, err := ReadToEnd(t.Context(), src, "", h.MaxReads)
				require.NoError(t, ruleErr(RuleStableKeys, err))
				require.NoError(t, ruleErr(RuleStableKeys, CheckStableKeys(Facts(reads), Facts(again))))
			})
		})
		t.Run("every message is valid against the canonical schemas", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleSchemas, CheckFacts(registry(t), Facts(reads), h.Canaries)))
		})
		if h.MinFailed > 0 {
			t.Run("broken input comes back as facts with their error, for quarantine", func(t *testing.T) {
				require.NoError(t, ruleErr(RuleQuarantine, CheckQuarantined(Facts(reads), h.MinFailed)))
			})
		}
		if h.Golden != "" {
			t.Run("the fixture maps to the golden canonical messages", func(t *testing.T) {
				got, err := GoldenOf(Facts(reads))
				require.NoError(t, err)
				if h.Update {
					require.NoError(t, os.MkdirAll(filepath.Dir(h.Golden), 0o750))
					require.NoError(t, os.WriteFile(h.Golden, got, 0o600))
				}
				want, err := os.ReadFile(h.Golden)
				require.NoError(t, err, "run the test with -update to create it")
				assert.JSONEq(t, string(want), string(got), "%s: the fixture no longer maps to %s (run with -update after checking the change)", RuleSchemas, h.Golden)
			})
		}
		if inst.Decoder != nil {
			t.Run("the raw input of every fact decodes again for replay", func(t *testing.T) {
				require.NoError(t, ruleErr(RuleQuarantine, CheckDecoder(t.Context(), inst.Decoder, Facts(reads), h.Canaries)))
			})
		}
		t.Run("logs carry no personal data", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleNoPersonalDataLog, checkLogs(logs, h.Canaries)))
		})
		if sys.Fail != nil {
			t.Run("a transient failure of the system is retryable and loses nothing", func(t *testing.T) {
				require.NoError(t, ruleErr(RuleTransientRetried, CheckTransientRead(t.Context(), inst.Source, sys.Fail, Facts(reads), h.MaxReads)))
			})
		}
	})
	t.Run("a cancelled context ends a read promptly", func(t *testing.T) {
		sys := h.Start(t)
		e, _ := env(t)
		inst := build(t, h.Spec, e, sys.Settings)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var err error
		within(t, "Read with a cancelled context", func() { err = CheckCancelled(ctx, inst.Source) })
		require.NoError(t, ruleErr(RuleCancellation, err))
		if sys.SetLatency == nil {
			return
		}
		t.Run("even while the system is slow", func(t *testing.T) {
			sys.SetLatency(time.Hour)
			t.Cleanup(func() { sys.SetLatency(0) })
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			var err error
			within(t, "Read cancelled while the system is slow", func() { err = CheckCancelled(ctx, inst.Source) })
			require.NoError(t, ruleErr(RuleCancellation, err))
		})
	})
	t.Run("no goroutine is left behind", func(t *testing.T) {
		require.NoError(t, ruleErr(RuleNoGoroutineLeak, goleak.Find(before)))
	})
}

// Read is one Read: the position it started from and what it returned.
type Read struct {
	From  string
	Batch connectors.Batch
}

// ReadToEnd reads from position until the source has nothing new (an empty batch
// whose Next is the position it was given), at most maxReads times. A batch with
// facts that does not move the position is an error: the pipeline would read it
// forever.
func ReadToEnd(ctx context.Context, src connectors.Source, position string, maxReads int) ([]Read, error) {
	var reads []Read
	for range maxReads {
		b, err := src.Read(ctx, position)
		if err != nil {
			return reads, fmt.Errorf("read from %q: %w", position, err)
		}
		if len(b.Facts) == 0 && b.Next == position {
			return reads, nil
		}
		if b.Next == position {
			return reads, fmt.Errorf("read from %q returned %d facts without moving the position", position, len(b.Facts))
		}
		reads = append(reads, Read{From: position, Batch: b})
		position = b.Next
	}
	return reads, fmt.Errorf("still reading after %d reads", maxReads)
}

// Facts returns the facts of reads, in order.
func Facts(reads []Read) []connectors.Fact {
	var out []connectors.Fact
	for _, r := range reads {
		out = append(out, r.Batch.Facts...)
	}
	return out
}

// FactKeys returns one key per message of the facts (type, system, reference,
// version), and one per failed fact (stage and identity, or its raw bytes when it has
// no identity), in order.
func FactKeys(facts []connectors.Fact) []string {
	var keys []string
	for _, f := range facts {
		if f.Err != nil {
			id := "raw:" + string(f.Raw)
			if f.Fact != nil {
				id = fmt.Sprintf("%s %s %d", f.Fact.System, f.Fact.Ref, f.Fact.Version)
			}
			keys = append(keys, "failed "+f.Stage+" "+id)
			continue
		}
		for _, m := range f.Messages {
			keys = append(keys, fmt.Sprintf("%s %s %s %d", m.Type, m.FactSystem, m.FactRef, m.FactVersion))
		}
	}
	return keys
}

// CheckResume reads again from each position the uninterrupted reads returned (at
// most maxPositions of them, spread evenly) to the end, and reports a position from
// which the facts differ from those the uninterrupted reads gave after it: a fact
// missing (lost on restart) or one too many (read twice across the checkpoint).
func CheckResume(ctx context.Context, src connectors.Source, reads []Read, maxReads, maxPositions int) error {
	n := len(reads)
	step := max(1, n/maxPositions)
	for k := 0; k < n; k += step {
		want := FactKeys(Facts(reads[k+1:]))
		again, err := ReadToEnd(ctx, src, reads[k].Batch.Next, maxReads)
		if err != nil {
			return fmt.Errorf("resume from %q: %w", reads[k].Batch.Next, err)
		}
		got := FactKeys(Facts(again))
		if diff := multisetDiff(want, got); diff != "" {
			return fmt.Errorf("resume from %q: %s", reads[k].Batch.Next, diff)
		}
	}
	return nil
}

// multisetDiff describes how got differs from want, counting repeats; "" when equal.
func multisetDiff(want, got []string) string {
	count := map[string]int{}
	for _, k := range want {
		count[k]++
	}
	for _, k := range got {
		count[k]--
	}
	var missing, extra []string
	for k, c := range count {
		switch {
		case c > 0:
			missing = append(missing, fmt.Sprintf("%s (×%d)", k, c))
		case c < 0:
			extra = append(extra, fmt.Sprintf("%s (×%d)", k, -c))
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("%d facts missing %s; %d read again %s", len(missing), firstFew(missing), len(extra), firstFew(extra))
}

// firstFew shows the first few keys of a list.
func firstFew(keys []string) string {
	if len(keys) > 5 {
		return fmt.Sprint(keys[:5]) + "…"
	}
	return fmt.Sprint(keys)
}

// CheckFacts reports a message that the canonical schemas refuse, a failed fact
// without its raw input or with a stage other than decode or map, a fact with neither
// messages nor error, and an error text that carries a canary.
func CheckFacts(reg *schemas.Registry, facts []connectors.Fact, canaries []string) error {
	for i, f := range facts {
		if f.Err != nil {
			if c, ok := containsCanary(f.Err.Error(), canaries); ok {
				return fmt.Errorf("fact %d: its error text carries the canary %q", i, c)
			}
			if len(f.Raw) == 0 {
				return fmt.Errorf("fact %d failed without its raw input: quarantine could not keep it", i)
			}
			if f.Stage != "decode" && f.Stage != "map" {
				return fmt.Errorf("fact %d failed at stage %q (decode or map)", i, f.Stage)
			}
			continue
		}
		if len(f.Messages) == 0 {
			return fmt.Errorf("fact %d has neither messages nor an error", i)
		}
		for _, m := range f.Messages {
			if err := ValidateMessage(reg, m); err != nil {
				return fmt.Errorf("fact %d: %w", i, err)
			}
			if f.Fact != nil && m.FactSystem != f.Fact.System {
				return fmt.Errorf("fact %d: a message of system %s in a fact of system %s", i, m.FactSystem, f.Fact.System)
			}
		}
	}
	return nil
}

// CheckDecoder decodes the raw input of every fact again, as `passerelle replay` does,
// and reports a raw input that no longer decodes, or decodes to other facts than
// those the source gave (compared by identity), or an error text with a canary.
// Facts that failed must fail again the same way (the fixture does not change).
func CheckDecoder(ctx context.Context, dec connectors.Decoder, facts []connectors.Fact, canaries []string) error {
	for i, f := range facts {
		msgs, err := dec.Decode(ctx, f.Raw, f.ContentType)
		if f.Err != nil {
			if err == nil {
				return fmt.Errorf("fact %d failed when read but decodes for replay", i)
			}
			if c, ok := containsCanary(err.Error(), canaries); ok {
				return fmt.Errorf("fact %d: the replay error carries the canary %q", i, c)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("fact %d: replay: %w", i, err)
		}
		want := FactKeys([]connectors.Fact{f})
		got := FactKeys([]connectors.Fact{{Messages: msgs}})
		for _, k := range want {
			if !slices.Contains(got, k) {
				return fmt.Errorf("fact %d: replay gives %v, not %s", i, got, k)
			}
		}
	}
	return nil
}

// CheckCancelled reads with ctx, which is cancelled or about to be, and reports a
// Read that returned facts without an error: a cancelled Read must give up.
func CheckCancelled(ctx context.Context, src connectors.Source) error {
	b, err := src.Read(ctx, "")
	if err == nil && len(b.Facts) > 0 {
		return fmt.Errorf("a Read with a cancelled context returned %d facts", len(b.Facts))
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("the Read failed before its context ended: %w", err)
	}
	return nil
}

// GoldenOf is the stored form of the facts' messages: every attribute but the id and
// the time (both set when the message is made: a random id, and for some sources the
// time the fact was read), data as the message carries it; and for each failed fact
// its stage and identity.
func GoldenOf(facts []connectors.Fact) ([]byte, error) {
	type entry struct {
		Type        string          `json:"type,omitempty"`
		Source      string          `json:"source,omitempty"`
		Subject     string          `json:"subject,omitempty"`
		DataSchema  string          `json:"dataschema,omitempty"`
		FactSystem  string          `json:"factsystem,omitempty"`
		FactRef     string          `json:"factref,omitempty"`
		FactVersion int64           `json:"factversion"`
		Data        json.RawMessage `json:"data,omitempty"`
		Failed      string          `json:"failed,omitempty"`
	}
	out := []entry{}
	for _, f := range facts {
		if f.Err != nil {
			e := entry{Failed: f.Stage}
			if f.Fact != nil {
				e.FactSystem, e.FactRef, e.FactVersion = f.Fact.System, f.Fact.Ref, f.Fact.Version
			}
			out = append(out, e)
			continue
		}
		for _, m := range f.Messages {
			out = append(out, entry{Type: m.Type, Source: m.Source, Subject: m.Subject, DataSchema: m.DataSchema,
				FactSystem: m.FactSystem, FactRef: m.FactRef, FactVersion: m.FactVersion, Data: m.Data})
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, errors.New("golden: " + strings.TrimPrefix(err.Error(), "json: "))
	}
	return buf.Bytes(), nil
}
