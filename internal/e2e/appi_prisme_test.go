package e2e

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	appisim "passerelle/connectors/appi/sim"
	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
)

// appiRig is APPI's interface tables, the PRISME simulator and the hub between them,
// on the example configuration's routes appi-to-prisme and prisme-to-appi.
type appiRig struct {
	t       testing.TB
	appi    *appisim.DB
	prisme  *prismesim.Server
	yml     string
	env     map[string]string
	hub     *hub
	restart int
}

func newAPPIRig(t *testing.T, prismeFaults func(*prismesim.Server)) *appiRig {
	t.Helper()
	r := prepareAPPIRig(t, appiRigOptions{prismeFaults: prismeFaults})
	r.start()
	return r
}

// appiRigOptions vary the rig; the zero value is newAPPIRig's.
type appiRigOptions struct {
	prismeFaults func(*prismesim.Server)
	// appi overrides the rig's settings of the appi connector.
	appi map[string]any
	// peers are a Kafka broker and a PRISME simulator running in another process
	// (startPeers); nil: the hub's embedded broker and a simulator in this process.
	peers *peers
}

// prepareAPPIRig is the rig without its hub started.
func prepareAPPIRig(t testing.TB, o appiRigOptions) *appiRig {
	t.Helper()
	appiURL := pgtest.NewDatabase(t)
	db, err := appisim.Open(t.Context(), appiURL)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	r := &appiRig{t: t, appi: db}
	var prismeURL, secret string
	if o.peers != nil {
		prismeURL, secret = o.peers.prismeURL, o.peers.secret
	} else {
		secret = fmt.Sprint("e2e-", time.Now().UnixNano())
		r.prisme = prismesim.New(prismesim.Options{Seed: 11, Clients: []prismesim.Client{
			{ID: "passerelle-demo", Secret: secret, Scopes: []string{prismesim.ScopeEcriture, prismesim.ScopeLecture}},
		}})
		if o.prismeFaults != nil {
			o.prismeFaults(r.prisme)
		}
		prismeURL = serve(t, r.prisme.Handler()).URL
	}
	appi := map[string]any{"visibilityDelay": "2s", "batchSize": 2000}
	for k, v := range o.appi {
		appi[k] = v
	}
	r.yml = exampleConfig(t, map[string]map[string]any{
		"appi": appi,
		"prisme": {"url": prismeURL, "inventoryUrl": prismeURL + "/_sim/current",
			"events": map[string]any{"enabled": true, "pageSize": 100}},
	}, "{backoffMin: 20ms, backoffMax: 300ms, timeout: 3s}")
	if o.peers != nil {
		r.yml = withBrokers(t, r.yml, o.peers.brokers)
	}
	r.env = map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "PRISME_CLIENT_SECRET": secret, "APPI_DSN": appiURL}
	return r
}

func (r *appiRig) start() {
	r.hub = startHub(r.t, r.yml, func(k string) string { return r.env[k] })
}

// restartHub stops the hub and starts another on the same database, as an operator
// restarting the service would.
func (r *appiRig) restartHub() {
	r.hub.stop()
	r.restart++
	r.start()
}

// reconciler compares the source with the destination, asking both systems.
func (r *appiRig) reconciler(source, destination string) *pipeline.Reconciler {
	t := r.t
	t.Helper()
	cfgs, instances := buildInstances(t, r.yml, r.env)
	for _, inst := range instances {
		if inst.Close != nil {
			t.Cleanup(func() { _ = inst.Close() })
		}
	}
	_, routing, err := pipeline.Prepare(cfgs, instances)
	require.NoError(t, err)
	rc := &pipeline.Reconciler{Store: r.hub.run.Store, Source: source, Destination: destination,
		Types: routing.Destinations()[destination]}
	if inv, ok := instances[source].Source.(connectors.Inventory); ok {
		rc.Inventory = inv
	}
	if h, ok := instances[destination].Sink.(connectors.Holdings); ok {
		rc.Holdings = h
	}
	require.NotNil(t, rc.Inventory, "%s can list what it holds", source)
	require.NotNil(t, rc.Holdings, "%s can say what it holds", destination)
	return rc
}

// clean reports whether rc finds nothing missing, stale, pending or quarantined.
func clean(t testing.TB, rc *pipeline.Reconciler) func() bool {
	return func() bool {
		res, err := rc.Run(t.Context())
		return err == nil && res.Clean()
	}
}

// An APPI export of 50,000 rows — measure histories, transactions that commit out of
// seq order, repeated states — written while the hub runs and is restarted twice:
// PRISME ends with the newest state of every measure, each version stored once, and
// reconcile finds nothing missing. Measures deleted from PRISME's store behind the
// hub's back are then named exactly by reconcile, and sent again.
func TestAnAPPIExportReachesPrismeAndReconcileProvesIt(t *testing.T) {
	const rows, restarts = 50_000, 2
	r := newAPPIRig(t, func(p *prismesim.Server) {
		require.NoError(t, p.Faults().FailFraction(prismesim.EndpointMesures, 0.1, 503, 0))
	})
	ctx := t.Context()
	g := appisim.NewGenerator(appisim.GeneratorOptions{Seed: 3, People: 4000})
	const chunk = 2500
	var late []<-chan error
	for written := 0; written < rows; written += chunk {
		batch := g.Rows(chunk)
		// A transaction that takes its seqs now and commits after the next chunks.
		l, err := r.appi.BeginLate(ctx, batch[:50]...)
		require.NoError(t, err)
		late = append(late, l.CommitAfter(ctx, 700*time.Millisecond))
		rest := batch[50:]
		// The same state written again (a new seq, the same content).
		rest = append(rest, rest[:25]...)
		require.NoError(t, r.appi.Insert(ctx, rest...))
		if written > 0 && written%(rows/(restarts+1)) < chunk && r.restart < restarts {
			r.restartHub()
		}
	}
	for _, c := range late {
		require.NoError(t, <-c)
	}
	require.Equal(t, restarts, r.restart)
	rc := r.reconciler("appi", "prisme")
	waitFor(t, 5*time.Minute, "reconcile to find nothing missing", clean(t, rc))

	newest := newestSeqs(t, r.appi)
	current := r.prisme.Current(prismesim.Mesure)
	require.Len(t, current, len(newest))
	for numero, seq := range newest {
		assert.Equal(t, seq, current[prismesim.MesureKey(numero)].Version, "measure %s is at its newest seq", numero)
	}
	stored := map[string]bool{}
	for _, it := range r.prisme.History(prismesim.Mesure) {
		k := fmt.Sprint(it.Key, "@", it.Version)
		assert.False(t, stored[k], "%s stored twice", k)
		stored[k] = true
	}

	// Behind the hub's back, PRISME loses measures (a restore from an older backup).
	var keys []string
	for k := range current {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lost := keys[:7]
	for _, k := range lost {
		require.NoError(t, r.prisme.DeleteItem(prismesim.Mesure, k))
	}
	res, err := rc.Run(ctx)
	require.NoError(t, err)
	require.False(t, res.Clean())
	var named []string
	for _, f := range res.Facts {
		assert.Equal(t, pipeline.ClassMissing, f.Class, "%+v", f)
		named = append(named, strings.TrimPrefix(f.Ref, "mesure/"))
	}
	sort.Strings(named)
	assert.Equal(t, lost, named, "reconcile names exactly what PRISME lost")
	n, err := r.hub.run.Store.Redeliver(ctx, "prisme", res.Gaps(), "operator:test")
	require.NoError(t, err)
	require.Equal(t, len(lost), n)
	waitFor(t, time.Minute, "the lost measures sent again", clean(t, rc))
	current = r.prisme.Current(prismesim.Mesure)
	for _, k := range lost {
		numero := k
		assert.Equal(t, newest[numero], current[k].Version, "measure %s is back at its newest seq", k)
	}
}

// 1,000 PRISME events — case transfers and validated reports — read from a feed that
// repeats pages and fails now and then, land in APPI's intake tables once each, and no
// interview note reaches APPI, the hub's tables or its quarantine.
func TestPrismeEventsReachAPPIOnceWithoutInterviewNotes(t *testing.T) {
	const events = 1000
	r := newAPPIRig(t, func(p *prismesim.Server) {
		require.NoError(t, p.Faults().RepeatPageFraction(0.3))
		require.NoError(t, p.Faults().FailFraction(prismesim.EndpointEvenements, 0.15, 503, 0))
		_, err := p.GenerateEvents(events)
		require.NoError(t, err)
	})
	ctx := t.Context()
	want := map[string]string{}
	for _, ev := range r.prisme.Events() {
		want[ev.ID] = ev.Type
	}
	require.Len(t, want, events)
	waitFor(t, 3*time.Minute, "every event in APPI", func() bool {
		c, err := r.appi.Count(ctx)
		return err == nil && c.Dessaisissements+c.Rapports >= events
	})
	r.hub.stop() // nothing more may arrive: count what did

	ds, err := r.appi.Dessaisissements(ctx)
	require.NoError(t, err)
	rp, err := r.appi.Rapports(ctx)
	require.NoError(t, err)
	got := map[string]string{}
	for _, d := range ds {
		assert.NotContains(t, got, d.ReferenceExterne, "one row per event")
		got[d.ReferenceExterne] = prismesim.TypeDessaisissement
	}
	for _, x := range rp {
		assert.NotContains(t, got, x.ReferenceExterne, "one row per event")
		got[x.ReferenceExterne] = prismesim.TypeRapportValide
	}
	assert.Equal(t, want, got, "each event once, in the table of its type")

	t.Run("no interview note anywhere", func(t *testing.T) {
		const canary = "suivi addictologie"
		var sent int
		for _, ev := range r.prisme.Events() {
			if ev.Dessaisissement != nil && strings.Contains(ev.Dessaisissement.NotesEntretien, canary) {
				sent++
			}
		}
		require.Positive(t, sent, "PRISME's feed carries interview notes")
		for _, d := range ds {
			assert.NotContains(t, fmt.Sprintf("%+v", d), canary)
		}
		var appiHits int
		require.NoError(t, r.appi.Pool().QueryRow(ctx, `SELECT
			(SELECT count(*) FROM appi.dessaisissements_entrants t WHERE t::text ILIKE '%'||$1||'%') +
			(SELECT count(*) FROM appi.rapports_entrants t WHERE t::text ILIKE '%'||$1||'%')`, canary).Scan(&appiHits))
		assert.Zero(t, appiHits, "in APPI")
		db, err := pgx.Connect(ctx, r.env["DATABASE_URL"])
		require.NoError(t, err)
		defer func() { _ = db.Close(context.Background()) }()
		var hubHits int
		require.NoError(t, db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM outbox WHERE position($1::bytea IN coalesce(data, ''::bytea)) > 0) +
			(SELECT count(*) FROM quarantine WHERE position($1::bytea IN coalesce(raw, ''::bytea)) > 0) +
			(SELECT count(*) FROM audit t WHERE t::text ILIKE '%'||$2||'%')`, []byte(canary), canary).Scan(&hubHits))
		assert.Zero(t, hubHits, "in the hub's outbox, quarantine or audit")
		assert.False(t, bytes.Contains([]byte(fmt.Sprint(got)), []byte(canary)))
	})
}

// newestSeqs is the newest seq of every measure of APPI's export.
func newestSeqs(t *testing.T, db *appisim.DB) map[string]int64 {
	t.Helper()
	rows, err := db.Pool().Query(t.Context(), `SELECT numero_mesure, max(seq) FROM appi.mesures_export GROUP BY 1`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var n string
		var s int64
		require.NoError(t, rows.Scan(&n, &s))
		out[n] = s
	}
	require.NoError(t, rows.Err())
	return out
}
