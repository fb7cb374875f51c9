package sim_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/prisme/sim"
)

// page reads one page of the events feed.
func (e *env) page(t *testing.T, c *http.Client, apres string, limite int) ([]sim.Evenement, reply) {
	t.Helper()
	q := url.Values{}
	if apres != "" {
		q.Set("apres", apres)
	}
	if limite > 0 {
		q.Set("limite", fmt.Sprint(limite))
	}
	r := e.get(t, c, "/api/v1/evenements?"+q.Encode())
	if r.status != http.StatusOK {
		return nil, r
	}
	var body struct {
		Evenements []sim.Evenement `json:"evenements"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.NotNil(t, body.Evenements, "an empty page is [], not null: %s", r.body)
	return body.Evenements, r
}

// transfer is a minimal valid case transfer for AddEvent.
func transfer(dossier string) sim.Evenement {
	return sim.Evenement{Type: sim.TypeDessaisissement, DossierID: dossier, Dessaisissement: &sim.Dessaisissement{
		Personne:           &sim.Personne{Nom: "MOREAU", Prenoms: []string{"Inès"}, DateNaissance: "1999-03-03"},
		JuridictionOrigine: "TJ REIMS", JuridictionDestination: "TJ TROYES", Motif: "DEMENAGEMENT", Date: "2025-03-10",
		Mesures: []sim.MesureTransferee{{NumeroMesure: "M1", TypeMesure: "SP"}},
	}}
}

func TestEventsFeed(t *testing.T) {
	e := newEnv(t)
	reader := e.oauthClient(t, readerID, readerSecret)
	var added []sim.Evenement
	for i := range 5 {
		ev, err := e.srv.AddEvent(transfer(fmt.Sprintf("D-%06d", i+1)))
		require.NoError(t, err)
		added = append(added, ev)
		e.clock.Advance(time.Second)
	}

	t.Run("pages come oldest first and each cursor resumes after its event", func(t *testing.T) {
		var got []sim.Evenement
		cursor := ""
		for _, want := range []int{2, 2, 1, 0} {
			page, r := e.page(t, reader, cursor, 2)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			require.Len(t, page, want)
			got = append(got, page...)
			if len(page) > 0 {
				cursor = page[len(page)-1].Curseur
			}
		}
		require.Len(t, got, 5)
		for i := range got {
			assert.Equal(t, added[i].ID, got[i].ID)
			assert.Equal(t, added[i].DossierID, got[i].DossierID)
		}
		for i := 1; i < len(got); i++ {
			assert.True(t, got[i-1].EmisLe.Before(got[i].EmisLe))
		}

		ev, err := e.srv.AddEvent(transfer("D-000009"))
		require.NoError(t, err)
		page, _ := e.page(t, reader, cursor, 2)
		require.Len(t, page, 1, "a new event appears after the last cursor")
		assert.Equal(t, ev.ID, page[0].ID)
	})

	t.Run("without parameters the feed starts at the beginning with pages of 100", func(t *testing.T) {
		_, err := e.srv.GenerateEvents(120)
		require.NoError(t, err)
		page, _ := e.page(t, reader, "", 0)
		assert.Len(t, page, 100)
		assert.Equal(t, added[0].ID, page[0].ID)
		page, _ = e.page(t, reader, "", 500)
		assert.Len(t, page, 126)
	})

	for _, tc := range []struct{ name, query string }{
		{"a limite of 0 answers 400", "limite=0"},
		{"a limite above 500 answers 400", "limite=501"},
		{"a limite that is not a number answers 400", "limite=dix"},
		{"a cursor PRISME never gave answers 400", "apres=nimporte-quoi"},
		{"a cursor beyond the last event answers 400", "apres=" + base64.RawURLEncoding.EncodeToString([]byte("prisme-evenement:100000"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, reader, "/api/v1/evenements?"+tc.query)
			require.Equal(t, http.StatusBadRequest, r.status, "body: %s", r.body)
			r.problem(t)
		})
	}
}

func TestAddEvent(t *testing.T) {
	e := newEnv(t)

	t.Run("an event gets an id, a time and a cursor", func(t *testing.T) {
		ev, err := e.srv.AddEvent(transfer("D-000001"))
		require.NoError(t, err)
		assert.NotEmpty(t, ev.ID)
		assert.NotEmpty(t, ev.Curseur)
		assert.Equal(t, e.clock.Now(), ev.EmisLe)
	})

	t.Run("an event the contract refuses is refused", func(t *testing.T) {
		bad := transfer("D-000001")
		bad.Type = "AUTRE"
		_, err := e.srv.AddEvent(bad)
		require.ErrorIs(t, err, sim.ErrInvalidEvent)

		bad = transfer("D-000001")
		bad.Dessaisissement.Personne.DateNaissance = "1999-02-30"
		_, err = e.srv.AddEvent(bad)
		require.ErrorIs(t, err, sim.ErrInvalidEvent)
		assert.Contains(t, err.Error(), "/dessaisissement/personne/dateNaissance")
	})

	t.Run("an id already used is refused", func(t *testing.T) {
		ev := transfer("D-000001")
		ev.ID = "evt-1"
		_, err := e.srv.AddEvent(ev)
		require.NoError(t, err)
		_, err = e.srv.AddEvent(ev)
		require.ErrorIs(t, err, sim.ErrDuplicateEvent)
	})
	assert.Len(t, e.srv.Events(), 2)
}

func TestGeneratedEvents(t *testing.T) {
	e := newEnv(t)
	c := e.writer(t)
	ids := ecrouIDs("2025-0042", "MTZ01")
	ids["numeroDossierAppi"] = "202399999999"
	require.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "m", mesure("M-PUSHED", 1,
		personne("PETIT", "Hugo", "1988-05-05", ids))).status)

	evs, err := e.srv.GenerateEvents(40)
	require.NoError(t, err)
	require.Len(t, evs, 40)
	dossiers := map[string]sim.Dossier{}
	for _, d := range e.srv.Dossiers() {
		dossiers[d.ID] = d
	}
	types := map[string]int{}
	pushedPerson := false
	for _, ev := range evs {
		types[ev.Type]++
		d, ok := dossiers[ev.DossierID]
		require.True(t, ok, "an event's dossier exists in PRISME")
		if d.NumeroDossierAppi == "202399999999" {
			pushedPerson = true
		}
		switch ev.Type {
		case sim.TypeDessaisissement:
			ds := ev.Dessaisissement
			require.NotNil(t, ds)
			require.Nil(t, ev.Rapport)
			assert.NotEmpty(t, ds.NotesEntretien, "the hub must drop them: they are sent")
			require.NotNil(t, ds.ProchainRendezVous)
			assert.True(t, ds.ProchainRendezVous.After(e.clock.Now()))
			assert.NotEqual(t, ds.JuridictionOrigine, ds.JuridictionDestination)
			assert.NotEmpty(t, ds.Mesures)
			assert.Equal(t, d.Nom, ds.Personne.Nom)
			require.NotEmpty(t, ds.Pieces)
			for _, p := range ds.Pieces {
				content, ok := e.srv.PieceContent(p.Sha256)
				require.True(t, ok)
				sum := sha256.Sum256(content)
				assert.Equal(t, hex.EncodeToString(sum[:]), p.Sha256)
				assert.Equal(t, int64(len(content)), p.Taille)
			}
		case sim.TypeRapportValide:
			rp := ev.Rapport
			require.NotNil(t, rp)
			require.Nil(t, ev.Dessaisissement)
			require.NotNil(t, rp.Document)
			content, err := base64.StdEncoding.DecodeString(rp.Document.ContenuBase64)
			require.NoError(t, err)
			sum := sha256.Sum256(content)
			assert.Equal(t, hex.EncodeToString(sum[:]), rp.Document.Sha256)
			assert.Equal(t, int64(len(content)), rp.Document.Taille)
			assert.Equal(t, "application/pdf", rp.Document.MediaType)
			assert.Equal(t, "%PDF-", string(content[:5]))
			assert.NotEmpty(t, rp.ValidePar)
		default:
			t.Fatalf("unexpected type %q", ev.Type)
		}
	}
	assert.Positive(t, types[sim.TypeDessaisissement])
	assert.Positive(t, types[sim.TypeRapportValide])
	assert.True(t, pushedPerson, "some events concern a person partners pushed")

	var withPushed sim.Evenement
	for _, ev := range evs {
		if ev.Type == sim.TypeDessaisissement && ev.Dessaisissement.Personne.Identifiants.NumeroDossierAppi == "202399999999" {
			withPushed = ev
		}
	}
	require.NotEmpty(t, withPushed.ID, "with seed 1, a transfer concerns the person pushed")
	assert.Equal(t, []sim.MesureTransferee{{NumeroMesure: "M-PUSHED", TypeMesure: "SP", Obligations: []string{"SOINS"}}},
		withPushed.Dessaisissement.Mesures, "a transfer lists the measures PRISME holds for the person")
	assert.Equal(t, "2025-0042", withPushed.Dessaisissement.Personne.Identifiants.NumeroEcrou)

	page, r := e.page(t, e.oauthClient(t, readerID, readerSecret), "", 500)
	require.Equal(t, http.StatusOK, r.status)
	assert.Len(t, page, 40)
	assert.Contains(t, string(r.body), `"notesEntretien"`)
	assert.Contains(t, string(r.body), `"prochainRendezVous"`)
}

func TestAddRawEvent(t *testing.T) {
	e := newEnv(t)
	reader := e.oauthClient(t, readerID, readerSecret)
	first, err := e.srv.AddEvent(transfer("D-000001"))
	require.NoError(t, err)

	cursor, err := e.srv.AddRawEvent([]byte(`{"id":"EVT-RAW-1","type":"AUDIENCE_FIXEE","curseur":"faux","emisLe":"2025-03-10T09:00:00Z","x":{"y":[1,2]}}`))
	require.NoError(t, err, "a type the contract does not know is served as it is")
	_, err = e.srv.AddRawEvent([]byte(`{"id":"EVT-RAW-1","type":"X"}`))
	require.ErrorIs(t, err, sim.ErrDuplicateEvent)
	for _, bad := range []string{`[1]`, `"x"`, `{"a":1} {}`, `{"a":`} {
		_, err = e.srv.AddRawEvent([]byte(bad))
		require.ErrorIs(t, err, sim.ErrInvalidEvent, "%s", bad)
	}

	r := e.get(t, reader, "/api/v1/evenements")
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var body struct {
		Evenements []json.RawMessage `json:"evenements"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Len(t, body.Evenements, 2)
	assert.JSONEq(t, `{"curseur":"`+cursor+`","id":"EVT-RAW-1","type":"AUDIENCE_FIXEE","emisLe":"2025-03-10T09:00:00Z","x":{"y":[1,2]}}`,
		string(body.Evenements[1]), "the cursor is the feed's, the other members as given")

	page, r := e.page(t, reader, first.Curseur, 10)
	require.Equal(t, http.StatusOK, r.status)
	require.Len(t, page, 1, "the raw event's cursor places it in the feed")
	assert.Equal(t, "EVT-RAW-1", page[0].ID)
	evs := e.srv.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, sim.Evenement{Curseur: cursor, ID: "EVT-RAW-1", Type: "AUDIENCE_FIXEE"}, evs[1])
}

func TestGeneratedEventsAreReproducibleIdsIncluded(t *testing.T) {
	at := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	gen := func() []sim.Evenement {
		s := sim.New(sim.Options{Seed: 5, Now: func() time.Time { return at }})
		evs, err := s.GenerateEvents(6)
		require.NoError(t, err)
		return evs
	}
	a, b := gen(), gen()
	assert.Equal(t, a, b)
	seen := map[string]bool{}
	for _, ev := range a {
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, ev.ID)
		assert.False(t, seen[ev.ID])
		seen[ev.ID] = true
	}
}
