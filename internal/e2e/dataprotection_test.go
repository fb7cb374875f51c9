package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/canonical"
	appisim "passerelle/connectors/appi/sim"
	"passerelle/connectors/cassiopee"
	cassiopeesim "passerelle/connectors/cassiopee/sim"
	gensim "passerelle/connectors/genesis/sim"
	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// canaryPerson is a person whose data are distinctive strings, planted in the
// simulators' data: none may appear in what the hub logs, counts or answers.
type canaryPerson struct {
	nom, prenom, naissance, adresse string
	ecrou, appi                     string
}

// The canaries: the persons' names, first names, birth dates (both spellings), their
// addresses, the court's detail of the obligations, the JAP's observations, the
// SPIP's interview notes and a birth place.
var (
	canaryZ = canaryPerson{nom: "QWXZVELLANOR", prenom: "Ysoldine", naissance: "1937-11-23", adresse: "17 impasse Zephyrine-Canarie",
		ecrou: "99-0417", appi: "209900004242"}
	canaryB = canaryPerson{nom: "BRZQUANTIMOR", prenom: "Orbeline", naissance: "1941-03-19", adresse: "3 chemin Ottavio-Canarie",
		ecrou: "99-0533", appi: "209900005353"}
	canaryDetails = []string{"CANARYPRECISION soins Zephyrine", "CANARYOBSERVATION du juge", "CANARYNOTES entretien Ysoldine",
		"CANARYVILLE-SUR-MER"}
)

func canaries() []string {
	out := slices.Clone(canaryDetails)
	for _, p := range []canaryPerson{canaryZ, canaryB} {
		day := p.naissance[8:10] + "/" + p.naissance[5:7] + "/" + p.naissance[:4]
		out = append(out, p.nom, strings.ToLower(p.nom), p.prenom, p.naissance, day, p.adresse, "Zephyrine-Canarie", "Ottavio-Canarie")
	}
	return out
}

func findCanary(text string) (string, bool) {
	for _, c := range canaries() {
		if strings.Contains(text, c) {
			return c, true
		}
	}
	return "", false
}

// Every flow of the example configuration at once, between the four simulators as
// `passerelle demo` wires them — GENESIS → PRISME, Cassiopée → PRISME, APPI → PRISME,
// PRISME events → APPI — with canary persons planted in each simulator's data (names,
// birth dates, addresses, the court's detail of obligations, the JAP's observations,
// the SPIP's interview notes), bad inputs that go to quarantine and Cassiopée pushes
// the intake refuses. No canary appears in the hub's logs (every level, every
// connector), its metrics, its quarantine reasons and violations, its audit, or the
// problems it answered. Then the subject export of the person present in every flow
// lists exactly the deliveries the PRISME and APPI simulators recorded for her.
func TestEveryFlowKeepsPersonalDataOutOfLogsAndTheExportMatchesTheDestinations(t *testing.T) {
	ctx := t.Context()
	secret := fmt.Sprint("e2e-", time.Now().UnixNano())

	// PRISME: a few events of its own, and a case transfer of each canary person with
	// interview notes; one event PRISME sends broken.
	prisme := prismesim.New(prismesim.Options{Seed: 5, Clients: []prismesim.Client{
		{ID: "passerelle-demo", Secret: secret, Scopes: []string{prismesim.ScopeEcriture, prismesim.ScopeLecture}},
	}})
	generated, err := prisme.GenerateEvents(8)
	require.NoError(t, err)
	var template *prismesim.Evenement
	for i := range generated {
		if generated[i].Dessaisissement != nil {
			template = &generated[i]
			break
		}
	}
	require.NotNil(t, template, "the generator makes case transfers")
	var canaryEvents []string
	for i, p := range []canaryPerson{canaryZ, canaryB} {
		ev := *template
		d := *template.Dessaisissement
		ev.ID, ev.DossierID, ev.Curseur = fmt.Sprintf("ev-canary-%d", i), fmt.Sprintf("D-CANARY-%d", i), ""
		d.Personne = &prismesim.Personne{Nom: p.nom, Prenoms: []string{p.prenom}, Sexe: "F", DateNaissance: p.naissance,
			Adresse: p.adresse, Identifiants: prismesim.Identifiants{NumeroDossierAppi: p.appi}}
		d.NotesEntretien = canaryDetails[2]
		ev.Dessaisissement = &d
		added, err := prisme.AddEvent(ev)
		require.NoError(t, err)
		canaryEvents = append(canaryEvents, added.ID)
	}
	_, err = prisme.AddRawEvent([]byte(`{"id":"ev-canary-broken","type":"DESSAISISSEMENT","emisLe":"2024-09-02T10:00:00Z","dossierId":"D-X",` +
		`"dessaisissement":{"personne":{"nom":"` + canaryB.nom + `","prenoms":["` + canaryB.prenom + `"],"dateNaissance":"` + canaryB.naissance +
		`","adresse":"` + canaryB.adresse + `","identifiants":{}},"motif":42}}`))
	require.NoError(t, err)
	prismeTS := serve(t, prisme.Handler())

	// GENESIS: a small prison, the canary person's committal and a change of her fiche,
	// and a movement of a fiche GENESIS does not know.
	gen := gensim.New(gensim.Options{Seed: 5})
	week := gensim.NewGenerator(gensim.GeneratorOptions{Seed: 5, Population: 15, EventsPerDay: 40})
	require.NoError(t, week.Populate(gen.State()))
	for range 10 {
		_, err := week.Next(gen.State())
		require.NoError(t, err)
	}
	fiche := gen.State().Fiches()[0]
	code := fiche.CodeEtablissement
	fiche.NumeroEcrou, fiche.Version, fiche.DateLevee = canaryZ.ecrou, 1, ""
	fiche.Identite = gensim.Identite{Nom: canaryZ.nom, Prenoms: canaryZ.prenom, Sexe: "F", DateNaissance: canaryZ.naissance,
		LieuNaissance: canaryDetails[3], Nationalite: "FRA"}
	at := time.Date(2024, 9, 2, 8, 0, 0, 0, time.UTC)
	_, err = gen.State().Ecrou(fiche, at)
	require.NoError(t, err)
	_, err = gen.State().MajFichePenale(canaryZ.ecrou, code, at.Add(time.Hour), func(f *gensim.FichePenale) { f.Identite.NomUsage = canaryB.nom })
	require.NoError(t, err)
	_, err = gen.State().AddMovement(gensim.Mouvement{NumeroEcrou: "99-0999", CodeEtablissement: code, Type: gensim.MajFichePenale,
		Horodatage: at.Add(2 * time.Hour)})
	require.NoError(t, err)
	lastMovement := gen.State().LastSequence()
	genesisTS := serve(t, gen.Handler())

	// APPI: a few measures, the canary persons' with the JAP's observations, and one
	// row of a measure kind the canonical model does not know.
	appiURL := pgtest.NewDatabase(t)
	appi, err := appisim.Open(ctx, appiURL)
	require.NoError(t, err)
	t.Cleanup(appi.Close)
	g := appisim.NewGenerator(appisim.GeneratorOptions{Seed: 5, People: 10})
	rows := g.Rows(12)
	for i, p := range []canaryPerson{canaryZ, canaryB, canaryB} {
		m := g.Next()
		m.NumeroMesure = fmt.Sprintf("M-99-2024-%06d", i)
		m.NumeroDossier, m.Nom, m.Prenoms, m.DateNaissance = p.appi, p.nom, p.prenom, p.naissance
		m.Observations = appisim.Str(canaryDetails[1])
		if p == canaryZ {
			m.NumeroEcrou, m.CodeEtablissement = appisim.Str(p.ecrou), appisim.Str(code)
		}
		if i == 2 {
			m.TypeMesure = "ZZZ"
		}
		rows = append(rows, m)
	}
	require.NoError(t, appi.Insert(ctx, rows...))
	measureNumbers := map[string]bool{}
	for _, m := range rows {
		measureNumbers[m.NumeroMesure] = true
	}

	// The hub, on the example configuration's routes and policies.
	intake := pipelinetest.FreeAddr(t)
	certs, err := cassiopeesim.GenerateCerts(t.TempDir(), cassiopeesim.Courts)
	require.NoError(t, err)
	yml := exampleConfig(t, map[string]map[string]any{
		"genesis": {"url": genesisTS.URL + "/genesis/ws/fichepenale"},
		"prisme": {"url": prismeTS.URL, "inventoryUrl": prismeTS.URL + "/_sim/current",
			"events": map[string]any{"enabled": true, "pageSize": 100}},
		"appi":      {"visibilityDelay": "1s"},
		"cassiopee": {"listen": intake, "certFile": certs.ServerCert, "keyFile": certs.ServerKey, "clientCAFile": certs.CAFile},
	}, "{backoffMin: 20ms, backoffMax: 300ms, timeout: 3s}")
	core, logs := observer.New(zapcore.DebugLevel)
	env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "PRISME_CLIENT_SECRET": secret, "APPI_DSN": appiURL}
	h := startHubLogging(t, yml, func(k string) string { return env[k] }, zap.New(core))
	st := h.run.Store

	// Cassiopée: a judgment of each canary person (the court's detail of the
	// obligations, her address), and two pushes the intake refuses.
	court := cassiopeesim.Courts[0]
	cert, err := certs.Courts[court.Code].Load()
	require.NoError(t, err)
	roots, err := cassiopee.LoadCertPool(certs.CAFile)
	require.NoError(t, err)
	waitFor(t, 30*time.Second, "the intake to listen", func() bool {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", intake)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	clerk := cassiopeesim.NewClerk("https://"+intake, cert, roots)
	t.Cleanup(clerk.Close)
	cg := cassiopeesim.NewGenerator(5, court)
	var answers []cassiopeesim.Answer
	send := func(d *cassiopee.Decision) cassiopeesim.Answer {
		a, err := clerk.Send(ctx, cassiopeesim.Body(d))
		require.NoError(t, err)
		answers = append(answers, a)
		return a
	}
	for _, p := range []canaryPerson{canaryZ, canaryB} {
		d := cg.Decision()
		d.Prevenus = d.Prevenus[:1]
		day := p.naissance[8:10] + "/" + p.naissance[5:7] + "/" + p.naissance[:4]
		d.Prevenus[0].Identite = cassiopee.Identite{Nom: p.nom, Prenoms: []string{p.prenom}, Sexe: "F", DateNaissance: day,
			Nationalite: "FRA", Adresse: p.adresse}
		d.Prevenus[0].NumeroEcrou = ""
		d.Prevenus[0].Peines = []cassiopee.Peine{{Code: cassiopee.CodeEMPSursisProbatoire, Duree: "12M", DureeSursis: "12M",
			DelaiEpreuve: "2A", Obligations: []string{"SOINS"}, PrecisionObligations: canaryDetails[0]}}
		require.Equal(t, http.StatusAccepted, send(d).Status)
		for _, mistake := range []string{cassiopeesim.MistakeImpossibleDate, cassiopeesim.MistakeSursisExceeds} {
			require.Equal(t, http.StatusUnprocessableEntity, send(cg.Mistake(d, mistake)).Status, mistake)
		}
	}
	for range 3 {
		require.Equal(t, http.StatusAccepted, send(cg.Decision()).Status)
	}
	// A push without any certificate: refused at the handshake or with a problem.
	bare := cassiopeesim.NewClerk("https://"+intake, tls.Certificate{}, roots)
	t.Cleanup(bare.Close)
	if a, err := bare.Send(ctx, cassiopeesim.Body(cg.Decision())); err == nil {
		answers = append(answers, a)
	}

	// Everything read and settled: each source at its end, the bad inputs quarantined,
	// every delivery with its outcome.
	why := ""
	defer func() {
		if t.Failed() && why != "" {
			t.Log("still waiting for: " + why)
		}
	}()
	waitFor(t, 2*time.Minute, "every flow read to its end and settled", func() bool {
		pos, _, err := st.Checkpoint(ctx, "genesis")
		if err != nil || pos != fmt.Sprint(lastMovement) {
			why = fmt.Sprintf("genesis at %q of %d (%v)", pos, lastMovement, err)
			return false
		}
		c, err := appi.Count(ctx)
		if err != nil || c.Dessaisissements+c.Rapports < len(generated)+len(canaryEvents) {
			why = fmt.Sprintf("APPI holds %+v of %d events (%v)", c, len(generated)+len(canaryEvents), err)
			return false
		}
		var measures int
		if err := st.Pool().QueryRow(ctx, `SELECT count(DISTINCT fact_ref) + (SELECT count(*) FROM quarantine WHERE connector = 'appi')
			FROM outbox WHERE connector = 'appi'`).Scan(&measures); err != nil || measures < len(measureNumbers) {
			why = fmt.Sprintf("%d APPI measures of %d (%v)", measures, len(measureNumbers), err)
			return false
		}
		b, err := st.Backlog(ctx)
		why = fmt.Sprintf("backlog %+v (%v)", b, err)
		return err == nil && b.Unpublished == 0 && b.Unsettled == 0
	})

	t.Run("no canary in the logs, metrics, quarantine, audit or answers", func(t *testing.T) {
		require.Positive(t, logs.Len())
		for _, e := range logs.All() {
			text := e.Message
			for k, v := range e.ContextMap() {
				text += fmt.Sprintf(" %s=%v", k, v)
			}
			if c, ok := findCanary(text); ok {
				t.Errorf("a %s log entry of %s carries the canary %q: %s", e.Level, e.LoggerName, c, text)
			}
		}
		resp, err := http.Get("http://" + h.run.HTTPAddr + "/metrics")
		require.NoError(t, err)
		metrics, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Contains(t, string(metrics), "passerelle_")
		if c, ok := findCanary(string(metrics)); ok {
			t.Errorf("the metrics carry the canary %q", c)
		}
		items, err := st.ListQuarantine(ctx, store.QuarantineFilter{Status: "all", Limit: 10000})
		require.NoError(t, err)
		stages := map[string]int{}
		for _, q := range items {
			stages[q.Connector+"/"+q.Stage]++
			text := q.Reason + fmt.Sprint(q.Violations)
			if c, ok := findCanary(text); ok {
				t.Errorf("quarantine %d (%s, %s) carries the canary %q in its reason: %s", q.ID, q.Connector, q.Stage, c, text)
			}
		}
		for _, want := range []string{"genesis/", "appi/", "prisme/"} {
			found := false
			for k := range stages {
				found = found || strings.HasPrefix(k, want)
			}
			assert.True(t, found, "a bad input of %s is quarantined: %v", want, stages)
		}
		db, err := pgx.Connect(ctx, env["DATABASE_URL"])
		require.NoError(t, err)
		defer func() { _ = db.Close(context.Background()) }()
		for _, c := range canaries() {
			var n int
			require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM audit a WHERE a::text LIKE '%'||$1||'%'`, c).Scan(&n))
			assert.Zero(t, n, "the audit carries the canary %q", c)
		}
		refused := 0
		for _, a := range answers {
			if a.Status >= 400 {
				refused++
				require.NotEmpty(t, a.Body)
			}
			if c, ok := findCanary(string(a.Body)); ok {
				t.Errorf("an answer %d of the intake carries the canary %q: %s", a.Status, c, a.Body)
			}
		}
		assert.GreaterOrEqual(t, refused, 4, "the refused pushes were answered with problems")
		ready, err := http.Get("http://" + h.run.HTTPAddr + "/readyz")
		require.NoError(t, err)
		body, err := io.ReadAll(ready.Body)
		require.NoError(t, err)
		require.NoError(t, ready.Body.Close())
		if c, ok := findCanary(string(body)); ok {
			t.Errorf("/readyz carries the canary %q", c)
		}
	})

	t.Run("the subject export lists exactly what PRISME and APPI recorded for her", func(t *testing.T) {
		exp, err := st.ExportSubject(ctx, store.SubjectQuery{System: pipeline.IDEcrou, Value: canaryZ.ecrou + "@" + code}, "operator:test")
		require.NoError(t, err)
		require.NotEmpty(t, exp.Persons)
		flows := map[string]bool{}
		exported := map[string][]string{} // destination → what each delivery left there
		for _, f := range exp.Facts {
			flows[f.Connector] = true
			for _, d := range f.Deliveries {
				require.Equal(t, store.StatusDelivered, d.Status, "%s %s to %s", f.FactSystem, f.FactRef, d.Destination)
				switch d.Destination {
				case "prisme":
					if d.ReceiptRef != "" { // a fact PRISME has no counterpart for is delivered without a record
						exported["prisme"] = append(exported["prisme"], d.ReceiptRef)
					}
				case "appi":
					exported["appi"] = append(exported["appi"], strings.TrimPrefix(f.FactRef, canonical.PrismeEventRef("")))
				}
			}
		}
		for _, c := range []string{"genesis", "cassiopee", "appi", "prisme"} {
			assert.True(t, flows[c], "she is in the %s flow: %v", c, flows)
		}

		// PRISME: every item stored in her dossiers, by PRISME's id of the item.
		dossiers := map[string]bool{}
		for _, d := range prisme.Dossiers() {
			if d.Nom == canaryZ.nom && d.DateNaissance == canaryZ.naissance {
				dossiers[d.ID] = true
			}
		}
		require.NotEmpty(t, dossiers)
		var recorded []string
		for _, kind := range []prismesim.Kind{prismesim.FichePenale, prismesim.EvenementDetention, prismesim.Decision, prismesim.Mesure} {
			for _, it := range prisme.History(kind) {
				if dossiers[it.DossierID] {
					recorded = append(recorded, it.ID)
				}
			}
		}
		sort.Strings(recorded)
		sort.Strings(exported["prisme"])
		assert.NotEmpty(t, recorded)
		assert.Equal(t, recorded, exported["prisme"], "PRISME's records of her are the export's deliveries to PRISME")

		// APPI: the case transfers and reports it took in about her, by PRISME's event id.
		ds, err := appi.Dessaisissements(ctx)
		require.NoError(t, err)
		rp, err := appi.Rapports(ctx)
		require.NoError(t, err)
		var taken []string
		for _, d := range ds {
			if d.Nom == canaryZ.nom {
				taken = append(taken, d.ReferenceExterne)
			}
		}
		for _, r := range rp {
			if r.Nom == canaryZ.nom {
				taken = append(taken, r.ReferenceExterne)
			}
		}
		sort.Strings(taken)
		sort.Strings(exported["appi"])
		assert.Equal(t, []string{canaryEvents[0]}, taken)
		assert.Equal(t, taken, exported["appi"], "APPI's records of her are the export's deliveries to APPI")
	})
}
