package pipeline_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/config"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// scrape reads the hub's /metrics as Prometheus would.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// sample sums the values of a family's samples whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// personalValues returns the names, first names, birth dates and identifiers of the
// persons in the source lines.
func personalValues(t *testing.T, lines [][]byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, l := range lines {
		var m struct {
			Data struct {
				Person struct {
					LastName    string            `json:"lastName"`
					FirstNames  []string          `json:"firstNames"`
					BirthDate   string            `json:"birthDate"`
					Identifiers map[string]string `json:"identifiers"`
				} `json:"person"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(l, &m))
		p := m.Data.Person
		out[p.LastName], out[p.BirthDate] = true, true
		for _, f := range p.FirstNames {
			out[f] = true
		}
		for _, v := range p.Identifiers {
			out[v] = true
		}
	}
	delete(out, "")
	return out
}

func TestMetricsMoveDuringAFlowAndCarryNoPersonalData(t *testing.T) {
	r := startHub(t, 600, 150, pipelinetest.Faults{Fail5xx: 0.2, Refuse422: 0.03}, "")
	defer r.stop()
	lines, _ := pipelinetest.Facts(600, 150, 1) // the same lines startHub wrote
	first := scrape(t, r.run.HTTPAddr)
	dest := map[string]string{"destination": "archive", "route": "measures-to-archive"}
	var last map[string]*dto.MetricFamily
	// The counters move just after the outcomes are committed: wait until they have
	// caught up with what PostgreSQL says (an overcount ends the wait too, and fails).
	waitFor(t, 2*time.Minute, "every delivery to have an outcome, and the metrics to count it", func() bool {
		if !r.quiet() {
			return false
		}
		last = scrape(t, r.run.HTTPAddr)
		return sample(last, "passerelle_deliveries_total", dest) >=
			sample(last, "passerelle_facts_in_total", map[string]string{"source": "appi-export", "outcome": "accepted"})
	})

	src := map[string]string{"source": "appi-export"}
	accepted := sample(last, "passerelle_facts_in_total", map[string]string{"source": "appi-export", "outcome": "accepted"})
	assert.Positive(t, accepted, "facts in, accepted")
	assert.Positive(t, sample(last, "passerelle_facts_in_total", map[string]string{"outcome": "duplicate"}), "facts in, duplicate")
	assert.Positive(t, sample(last, "passerelle_facts_in_total", map[string]string{"outcome": "stale"}), "facts in, stale")
	assert.InDelta(t, 600, sample(last, "passerelle_facts_in_total", src), 0, "every line is counted once")
	assert.Greater(t, sample(last, "passerelle_facts_in_total", src), sample(first, "passerelle_facts_in_total", src))

	delivered := sample(last, "passerelle_deliveries_total", map[string]string{"destination": "archive", "outcome": "delivered"})
	quarantined := sample(last, "passerelle_deliveries_total", map[string]string{"destination": "archive", "outcome": "quarantined"})
	assert.Positive(t, delivered)
	assert.Positive(t, quarantined, "the destination refused some")
	assert.Greater(t, sample(last, "passerelle_deliveries_total", dest), sample(first, "passerelle_deliveries_total", dest), "the counters moved")
	assert.InDelta(t, accepted, sample(last, "passerelle_deliveries_total", dest), 0, "one outcome per accepted message")
	assert.Positive(t, sample(last, "passerelle_delivery_duration_seconds", map[string]string{"destination": "archive"}), "latency observed")
	assert.Positive(t, sample(last, "passerelle_delivery_retries_total", map[string]string{"destination": "archive"}), "5xx were retried")
	assert.Positive(t, sample(last, "passerelle_relay_published_total", nil))
	assert.Contains(t, last, "passerelle_consumer_lag_messages")
	assert.Zero(t, sample(last, "passerelle_outbox_backlog", map[string]string{"state": "unsettled"}), "settled at the end")
	assert.Zero(t, sample(last, "passerelle_deliveries_pending", map[string]string{"destination": "archive"}))
	assert.InDelta(t, quarantined, sample(last, "passerelle_quarantine_open", map[string]string{"stage": "deliver", "connector": "archive"}), 0)
	assert.InDelta(t, 1, sample(last, "passerelle_state_scrape_ok", nil), 0)

	t.Run("no label value is a name, a birth date or an identifier of the test data", func(t *testing.T) {
		personal := personalValues(t, lines)
		require.NotEmpty(t, personal)
		for _, fams := range []map[string]*dto.MetricFamily{first, last} {
			for name, f := range fams {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						v := l.GetValue()
						for p := range personal {
							assert.False(t, v == p || (len(p) > 3 && strings.Contains(v, p)), "%s{%s=%q} carries personal data", name, l.GetName(), v)
						}
					}
				}
			}
		}
	})
	t.Run("readyz checks PostgreSQL, Kafka and every route", func(t *testing.T) {
		body, code := get(t, "http://"+r.run.HTTPAddr+"/readyz")
		assert.Equal(t, http.StatusOK, code, body)
		assert.Contains(t, body, "postgresql: ok")
		assert.Contains(t, body, "kafka: ok (1 brokers)")
		assert.Contains(t, body, "route measures-to-archive -> archive: running, 0 pending")
		assert.Contains(t, body, "source appi-export: running")
	})
}

func get(t *testing.T, url string) (string, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b), resp.StatusCode
}

func TestPausingARouteStopsItsDeliveriesAndResumingDeliversTheBacklogOnce(t *testing.T) {
	db := pgtest.NewDatabase(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	changed, err := st.SetPaused(t.Context(), pipeline.ControlRoute, "measures-to-archive", true, "destination maintenance", "operator:test")
	require.NoError(t, err)
	require.True(t, changed)

	r := startHubOn(t, db, 300, 80, pipelinetest.Faults{}, "")
	defer r.stop()
	ingested := func() bool {
		pos, _, err := st.Checkpoint(t.Context(), "appi-export")
		b, berr := st.Backlog(t.Context())
		return err == nil && berr == nil && pos == fmt.Sprint(r.size) && b.Unpublished == 0
	}
	waitFor(t, time.Minute, "the file ingested and published", ingested)
	time.Sleep(2 * time.Second) // time the deliverer would need to deliver, were it not paused
	assert.Empty(t, r.dest.Applied(), "a paused route delivers nothing")
	b, err := st.Backlog(t.Context())
	require.NoError(t, err)
	assert.Positive(t, b.Pending["archive"], "its deliveries wait, pending")
	body, code := get(t, "http://"+r.run.HTTPAddr+"/readyz")
	assert.Equal(t, http.StatusOK, code, "a paused route is deliberate: the hub is ready")
	assert.Contains(t, body, "route measures-to-archive -> archive: paused (paused by operator:test at ")
	assert.Contains(t, body, "destination maintenance")

	changed, err = r.run.Controls.Set(t.Context(), pipeline.ControlRoute, "measures-to-archive", false, "", "operator:test")
	require.NoError(t, err)
	require.True(t, changed)
	waitFor(t, time.Minute, "the backlog delivered", r.settled)
	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest))
	requests, replays, _ := r.dest.Stats()
	assert.Equal(t, len(r.dest.Applied()), requests, "each message was sent once")
	assert.Zero(t, replays)
	seen := map[string]bool{}
	for _, e := range r.dest.Applied() {
		k := fmt.Sprintf("%s@%d", e.FactRef, e.Version)
		assert.False(t, seen[k], "%s delivered twice", k)
		seen[k] = true
	}
	var pauses, resumes int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE action = 'pause'), count(*) FILTER (WHERE action = 'resume')
		FROM audit WHERE actor = 'operator:test' AND route = 'measures-to-archive'`).Scan(&pauses, &resumes))
	assert.Equal(t, 1, pauses, "the pause is audited")
	assert.Equal(t, 1, resumes, "the resume is audited")
}

func TestAPausedSourceStopsReadingAndResumesFromAResetCheckpoint(t *testing.T) {
	db := pgtest.NewDatabase(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.SetPaused(t.Context(), pipeline.ControlSource, "appi-export", true, "", "operator:test")
	require.NoError(t, err)
	r := startHubOn(t, db, 50, 20, pipelinetest.Faults{}, "")
	defer r.stop()
	time.Sleep(1500 * time.Millisecond)
	_, ok, err := st.Checkpoint(t.Context(), "appi-export")
	require.NoError(t, err)
	assert.False(t, ok, "a paused source reads nothing")

	_, err = pipeline.ResetCheckpoint(t.Context(), st, "appi-export", "0", "operator:test", 5*time.Second)
	require.NoError(t, err)
	_, err = r.run.Controls.Set(t.Context(), pipeline.ControlSource, "appi-export", false, "", "operator:test")
	require.NoError(t, err)
	waitFor(t, time.Minute, "everything delivered after the resume", r.settled)

	_, err = pipeline.ResetCheckpoint(t.Context(), st, "appi-export", "0", "operator:test", time.Second)
	require.ErrorContains(t, err, "not paused", "a running source's checkpoint is not reset under it")
	var resets int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'reset-checkpoint' AND actor = 'operator:test'`).Scan(&resets))
	assert.Equal(t, 1, resets)
}

func TestPausingARouteStopsTheRetriesOfADestinationThatIsDown(t *testing.T) {
	r := startHub(t, 40, 40, pipelinetest.Faults{Fail5xx: 1}, "")
	defer r.stop()
	waitFor(t, time.Minute, "the destination to be tried", func() bool { req, _, _ := r.dest.Stats(); return req > 20 })
	_, err := r.run.Controls.Set(t.Context(), pipeline.ControlRoute, "measures-to-archive", true, "destination down", "operator:test")
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond) // attempts in flight end (timeout 500ms)
	before, _, _ := r.dest.Stats()
	time.Sleep(1500 * time.Millisecond)
	after, _, _ := r.dest.Stats()
	assert.Equal(t, before, after, "no attempt while paused")

	r.dest.SetFaults(pipelinetest.Faults{})
	_, err = r.run.Controls.Set(t.Context(), pipeline.ControlRoute, "measures-to-archive", false, "", "operator:test")
	require.NoError(t, err)
	waitFor(t, time.Minute, "everything delivered after the resume", r.settled)
	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest))
}

// A destination that keeps the newest version itself gets, of a backlog, each fact's
// newest version only; any other gets every version, in order.
func TestADestinationThatKeepsTheNewestGetsOnlyTheNewestOfABacklog(t *testing.T) {
	for _, newestWins := range []bool{false, true} {
		t.Run(fmt.Sprintf("newestWins=%v", newestWins), func(t *testing.T) {
			db := pgtest.NewDatabase(t)
			st, err := store.Open(t.Context(), db, store.Options{})
			require.NoError(t, err)
			defer st.Close()
			_, err = st.SetPaused(t.Context(), pipeline.ControlRoute, "measures-to-archive", true, "backlog", "operator:test")
			require.NoError(t, err)
			lines, newest := pipelinetest.Facts(400, 60, 1)
			r := startHubLines(t, db, lines, newest, pipelinetest.Faults{}, "", func(c *config.Config) {
				c.Connectors["archive"].Settings["newestWins"] = newestWins
			})
			defer r.stop()
			waitFor(t, time.Minute, "the file ingested and published", func() bool {
				pos, _, err := st.Checkpoint(t.Context(), "appi-export")
				b, berr := st.Backlog(t.Context())
				return err == nil && berr == nil && pos == fmt.Sprint(r.size) && b.Unpublished == 0
			})
			var accepted int
			require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM deliveries`).Scan(&accepted))
			require.Greater(t, accepted, len(newest), "the backlog holds several versions of some facts")

			_, err = r.run.Controls.Set(t.Context(), pipeline.ControlRoute, "measures-to-archive", false, "", "operator:test")
			require.NoError(t, err)
			waitFor(t, time.Minute, "the backlog delivered", r.settled)
			assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest), "the destination holds every fact's newest version")
			var delivered, superseded int
			require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE status = 'delivered'),
				count(*) FILTER (WHERE status = 'superseded') FROM deliveries`).Scan(&delivered, &superseded))
			assert.Equal(t, accepted, delivered+superseded)
			if newestWins {
				assert.Len(t, r.dest.Applied(), len(newest), "one version a fact: its newest")
				assert.Equal(t, len(newest), delivered)
			} else {
				assert.Len(t, r.dest.Applied(), accepted, "every version, in order")
				assert.Zero(t, superseded)
			}
		})
	}
}
