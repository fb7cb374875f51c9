package cassiopee_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/connectors/cassiopee"
	"passerelle/connectors/cassiopee/sim"
	"passerelle/connectors/prisme"
	psim "passerelle/connectors/prisme/sim"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
)

// judgmentPolicy is the field policy of the route cassiopee → PRISME: what PRISME's
// Decision has a field for, address and obligation details included (the SPIP needs
// them; the policy lets them reach probation only).
const judgmentPolicy = `
      judgment:
        - transmissionNumber
        - court.code
        - court.label
        - prosecutionNumber
        - judgmentNumber
        - decisionDate
        - nature
        - character
        - enforceableOn
        - appeal
        - person.lastName
        - person.usageName
        - person.firstNames
        - person.sex
        - person.birthDate
        - person.birthPlace
        - person.nationality
        - person.address
        - person.identifiers.committalNumber
        - person.identifiers.prosecutionNumbers
        - offences[].natinf
        - offences[].label
        - offences[].offenceDate
        - offences[].classification
        - sentences[].kind
        - sentences[].duration.years
        - sentences[].duration.months
        - sentences[].duration.days
        - sentences[].suspendedDuration.years
        - sentences[].suspendedDuration.months
        - sentences[].suspendedDuration.days
        - sentences[].probationPeriod.years
        - sentences[].probationPeriod.months
        - sentences[].probationPeriod.days
        - sentences[].hours
        - sentences[].amountCents
        - sentences[].dailyAmountCents
        - sentences[].obligations
        - sentences[].obligationDetails
`

// hubRig is a whole hub — PostgreSQL, the embedded broker, the PRISME sink talking to
// the PRISME simulator over HTTP — with the Cassiopée intake as its push source.
type hubRig struct {
	prisme *psim.Server
	certs  *sim.CertSet
	url    string
	run    *pipeline.Running
	logs   *observer.ObservedLogs
}

func startHub(t testing.TB) *hubRig {
	t.Helper()
	return startHubLogging(t, zapcore.DebugLevel)
}

// startHubLogging is startHub with the hub's logs observed from level on (a benchmark
// keeps only warnings, so that observing them costs nothing measurable).
func startHubLogging(t testing.TB, level zapcore.Level) *hubRig {
	t.Helper()
	ps := psim.New(psim.Options{})
	srv := httptest.NewServer(ps.Handler())
	t.Cleanup(srv.Close)
	dbURL := pgtest.NewDatabase(t)
	cfg, err := config.Read(strings.NewReader(fmt.Sprintf(`
log: {format: console, level: debug}
database: {url: %q}
kafka: {partitions: 4, sessionTimeout: 2s, heartbeatInterval: 500ms}
http: {listen: "127.0.0.1:0"}
delivery: {backoffMin: 20ms, backoffMax: 200ms, timeout: 2s}
connectors:
  prisme: {url: %q, clientId: %q, clientSecret: {env: PRISME_CLIENT_SECRET}}
routes:
  - name: cassiopee-to-prisme
    types: [judgment]
    destination: prisme
    legalBasis:
      reference: "Code de procédure pénale, art. 48-1 et R15-33-66-4 et s. (Cassiopée) ; Code pénitentiaire, art. R113-49 et s."
      purpose: "the SPIP receives the judgments it must enforce without re-keying them"
    allow:%s`, dbURL, srv.URL, psim.DefaultClientID, judgmentPolicy)), func(string) string { return "" })
	require.NoError(t, err)

	core, logs := observer.New(level)
	log := zap.New(core)
	getenv := func(k string) string {
		if k == "PRISME_CLIENT_SECRET" {
			return psim.DefaultClientSecret
		}
		return ""
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	sink, problems := prisme.Spec.New(connectors.Env{Name: "prisme", Logger: log.Named("prisme"), Getenv: getenv,
		HTTPClient: &http.Client{Transport: transport, Timeout: time.Minute}}, cfg.Connectors["prisme"].Settings, "connectors.prisme")
	require.Empty(t, problems)

	certs, err := sim.GenerateCerts(t.TempDir(), sim.Courts)
	require.NoError(t, err)
	serverCert, err := certs.ServerKeyPair().Load()
	require.NoError(t, err)
	cas, err := cassiopee.LoadCertPool(certs.CAFile)
	require.NoError(t, err)
	intake, err := cassiopee.NewIntake(cassiopee.IntakeOptions{Listen: "127.0.0.1:0", Certificate: serverCert, ClientCAs: cas,
		Logger: log.Named("cassiopee")})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *pipeline.Running, 1)
	hub := &pipeline.Hub{Config: cfg, Log: log, OnReady: func(r *pipeline.Running) { ready <- r },
		Instances: map[string]*connectors.Instance{"prisme": sink, "cassiopee": {Serve: intake.Serve}}}
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the hub did not stop within 30 s")
		}
	})
	r := &hubRig{prisme: ps, certs: certs, logs: logs}
	select {
	case r.run = <-ready:
	case err := <-done:
		t.Fatalf("hub stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("hub did not start")
	}
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	addr := intake.Addr(wait)
	require.NotEmpty(t, addr)
	r.url = "https://" + addr
	return r
}

// settled reports whether every accepted message has an outcome everywhere.
func (r *hubRig) settled(t testing.TB) bool {
	b, err := r.run.Store.Backlog(t.Context())
	return err == nil && b.Unsettled == 0 && b.Unpublished == 0
}

func (r *hubRig) clerk(t testing.TB, court string) *sim.Clerk {
	t.Helper()
	cert, err := r.certs.Courts[court].Load()
	require.NoError(t, err)
	roots, err := cassiopee.LoadCertPool(r.certs.CAFile)
	require.NoError(t, err)
	c := sim.NewClerk(r.url, cert, roots)
	t.Cleanup(c.Close)
	return c
}

// sent is one transmission and what the intake answered.
type sent struct {
	sim.Transmission
	court  string
	answer sim.Answer
}

func TestDecisionsPushedByClerksReachPrismeOnceAtTheirNewestTransmission(t *testing.T) {
	const perCourt, mistakes = 500, 12 // 1,000 decisions from two courts
	r := startHub(t)
	require.NoError(t, r.prisme.Faults().FailFraction(psim.EndpointDecisions, 1.0/3, http.StatusServiceUnavailable, 0))

	var all []*sent
	newest := map[string]*cassiopee.Decision{}
	clerks := map[string]*sim.Clerk{}
	for i, court := range sim.Courts[:2] {
		ts, nw := sim.NewGenerator(uint64(i+1), court).Workload(perCourt, mistakes)
		for npp, d := range nw {
			newest[npp] = d
		}
		for _, tr := range ts {
			all = append(all, &sent{Transmission: tr, court: court.Code})
		}
		clerks[court.Code] = r.clerk(t, court.Code)
	}
	require.Len(t, newest, 2*perCourt)

	// Each phase is sent by 8 workstations at once, and delivered, before the next.
	for phase := 1; phase <= 3; phase++ {
		work := make(chan *sent)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for s := range work {
					a, err := clerks[s.court].Send(context.Background(), s.Body)
					if assert.NoError(t, err) {
						s.answer = a
					}
				}
			})
		}
		for _, s := range all {
			if s.Phase == phase {
				work <- s
			}
		}
		close(work)
		wg.Wait()
		eventually(t, 2*time.Minute, fmt.Sprintf("phase %d delivered", phase), func() bool { return r.settled(t) })
	}

	receiptOf := map[string]string{} // numéro parquet + transmission → receipt id
	var receipts []*sent
	atOnce := map[string]int{}
	for _, s := range all {
		key := fmt.Sprintf("%s#%d", s.Decision.Jugement.NumeroParquet, s.Decision.NumeroTransmission)
		switch {
		case s.Mistake == sim.MistakeOtherCourt:
			assert.Equal(t, http.StatusForbidden, s.answer.Status, key)
		case s.Mistake != "":
			require.Equal(t, http.StatusUnprocessableEntity, s.answer.Status, key)
			assert.NotEmpty(t, s.answer.Problem.Errors)
		case s.Repeat:
			assert.Equal(t, http.StatusOK, s.answer.Status, key)
			require.NotNil(t, s.answer.Receipt)
			assert.Equal(t, receiptOf[key], s.answer.Receipt.ID, "the same transmission twice gives the same receipt")
		default:
			require.Equal(t, http.StatusAccepted, s.answer.Status, "%s: %s", key, s.answer.Body)
			require.Len(t, s.answer.Receipt.Messages, len(s.Decision.Prevenus), "one message per prévenu")
			receiptOf[key] = s.answer.Receipt.ID
			receipts = append(receipts, s)
			for _, m := range s.answer.Receipt.Messages {
				atOnce[m.Statut]++
			}
		}
	}
	// The answer is given at once, when the decision is committed, before PRISME.
	assert.Positive(t, atOnce[connectors.StateAccepted], "%v", atOnce)
	for st := range atOnce {
		assert.Contains(t, []string{connectors.StateAccepted, connectors.StateRelayed, connectors.StateDelivered, connectors.StateStale}, st)
	}

	t.Run("every receipt ends delivered, with PRISME's dossier, and a late older transmission stale", func(t *testing.T) {
		for _, s := range receipts {
			a, err := clerks[s.court].Receipt(t.Context(), s.answer.Receipt.ID)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, a.Status)
			stale := s.Decision.NumeroTransmission < newest[s.Decision.Jugement.NumeroParquet].NumeroTransmission && s.Phase == 3
			for _, m := range a.Receipt.Messages {
				if stale {
					assert.Equal(t, connectors.StateStale, m.Statut)
					assert.NotEmpty(t, m.Courant)
					continue
				}
				if assert.Equal(t, connectors.StateDelivered, m.Statut, "%s prévenu %d", s.Decision.Jugement.NumeroParquet, m.Prevenu) {
					assert.NotEmpty(t, m.DossierID)
					assert.NotNil(t, m.DelivreLe)
				}
			}
		}
	})
	t.Run("PRISME holds each decision once per prévenu, at its newest transmission", func(t *testing.T) {
		current := r.prisme.Current(psim.Decision)
		perNPP := map[string]int{}
		for key, it := range current {
			npp, _, _ := strings.Cut(key, "@")
			d, ok := newest[npp]
			if !assert.True(t, ok, key) {
				continue
			}
			perNPP[npp]++
			assert.Equal(t, d.NumeroTransmission, it.Version, key)
		}
		total := 0
		for npp, d := range newest {
			total += len(d.Prevenus)
			assert.Equal(t, len(d.Prevenus), perNPP[npp], npp)
		}
		assert.Len(t, current, total)
		stored := map[string]int{}
		for _, it := range r.prisme.History(psim.Decision) {
			stored[fmt.Sprintf("%s#%d", it.Key, it.Version)]++
		}
		for k, n := range stored {
			assert.Equal(t, 1, n, "%s stored once", k)
		}
		st := r.prisme.Stats()
		assert.Positive(t, st.ByEndpoint[psim.EndpointDecisions][http.StatusServiceUnavailable], "PRISME did answer 503")
		t.Logf("%d decisions, %d transmissions, %d judgments in PRISME; PRISME answered %v", len(newest), len(all), total,
			st.ByEndpoint[psim.EndpointDecisions])
	})
	t.Run("the address and the obligation details reached PRISME, and no log", func(t *testing.T) {
		var secrets []string
		for _, d := range newest {
			for _, p := range d.Prevenus {
				if p.Identite.Adresse != "" {
					secrets = append(secrets, p.Identite.Adresse)
				}
				secrets = append(secrets, p.Identite.DateNaissance)
			}
		}
		secrets = append(secrets, "Obligation de soins")
		found := false
		for _, it := range r.prisme.Current(psim.Decision) {
			found = found || strings.Contains(string(it.Body), "Obligation de soins")
		}
		assert.True(t, found, "precisionObligations reached PRISME")
		var text strings.Builder
		for _, e := range r.logs.All() {
			text.WriteString(e.Message)
			for _, f := range e.Context {
				text.WriteString(" " + f.String + fmt.Sprint(f.Interface))
			}
			text.WriteByte('\n')
		}
		logged := text.String()
		require.NotEmpty(t, logged)
		for _, s := range secrets {
			require.NotContains(t, logged, s, "a log line carries personal data")
		}
	})
}
