package sim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/prisme/sim"
)

func TestWriteAnswers(t *testing.T) {
	e := newEnv(t)
	c := e.writer(t)

	t.Run("a valid item of each kind answers 201 with an Accuse", func(t *testing.T) {
		for i, tc := range []struct {
			kind sim.Kind
			body map[string]any
		}{
			{sim.FichePenale, fiche("2024-1234", "NCY01", 3, dupont())},
			{sim.Decision, decision("24123000456", 1, dupont())},
			{sim.Mesure, mesure("M2025-000017", 4, dupont())},
			{sim.EvenementDetention, custody(981, "ECROU", "2024-1234", "NCY01", dupont())},
		} {
			r := e.post(t, c, tc.kind, "valide-"+string(tc.kind), tc.body)
			require.Equal(t, http.StatusCreated, r.status, "%s: %s", tc.kind, r.body)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			a := r.accuse(t)
			assert.True(t, a.Courant)
			assert.Equal(t, e.clock.Now(), a.RecuLe)
			assert.Equal(t, "D-000001", a.DossierID, "item %d: the same person (same écrou) has one dossier", i)
		}
	})

	t.Run("the X-Correlation-Id is echoed and logged", func(t *testing.T) {
		b, err := json.Marshal(mesure("M-corr", 1, dupont()))
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.ts.URL+"/api/v1/mesures", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "corr")
		req.Header.Set("X-Correlation-Id", "msg-42")
		r := do(t, c, req)
		require.Equal(t, http.StatusCreated, r.status)
		assert.Equal(t, "msg-42", r.header.Get("X-Correlation-Id"))
		reqs := e.srv.Requests()
		assert.Equal(t, "msg-42", reqs[len(reqs)-1].CorrelationID)
	})

	t.Run("a charset=utf-8 parameter is accepted", func(t *testing.T) {
		b, err := json.Marshal(mesure("M-charset", 1, dupont()))
		require.NoError(t, err)
		r := e.postRaw(t, c, sim.Mesure, "charset", "application/json; charset=utf-8", b)
		assert.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	})

	valid, err := json.Marshal(fiche("2024-9999", "NCY01", 1, dupont()))
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		ctype  string
		key    string
		body   []byte
		status int
	}{
		{"a POST without Idempotency-Key answers 400", "application/json", "", valid, 400},
		{"an Idempotency-Key of 129 characters answers 400", "application/json", strings.Repeat("k", 129), valid, 400},
		{"a body that is not JSON answers 400", "application/json", "pas-json", []byte(`{"source":`), 400},
		{"two JSON documents in one body answer 400", "application/json", "deux", []byte(`{} {}`), 400},
		{"a text/plain body answers 415", "text/plain", "texte", valid, 415},
		{"a body without Content-Type answers 415", "", "sans-type", valid, 415},
		{"application/problem+json is not application/json: 415", "application/problem+json", "pb", valid, 415},
		{"a latin-1 charset answers 415", "application/json; charset=iso-8859-1", "latin", valid, 415},
		{"a body over 1 MiB answers 413", "application/json", "gros", bytes.Repeat([]byte(" "), sim.MaxBodyBytes+1), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.postRaw(t, c, sim.FichePenale, tc.key, tc.ctype, tc.body)
			require.Equal(t, tc.status, r.status, "body: %s", r.body)
			r.problem(t)
		})
	}

	t.Run("an Idempotency-Key of 128 characters, even multi-byte, is accepted", func(t *testing.T) {
		r := e.postRaw(t, c, sim.FichePenale, strings.Repeat("é", 128), "application/json", valid)
		assert.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	})

	t.Run("a body of exactly 1 MiB is read, then judged on its content", func(t *testing.T) {
		body := append(bytes.Clone(valid), bytes.Repeat([]byte(" "), sim.MaxBodyBytes-len(valid))...)
		r := e.postRaw(t, c, sim.FichePenale, "pile-1-mio", "application/json", body)
		assert.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	})
}

func TestValidation(t *testing.T) {
	e := newEnv(t)
	c := e.writer(t)

	t.Run("an unknown field is refused with its pointer, at any depth", func(t *testing.T) {
		f := fiche("1", "NCY01", 1, dupont())
		f["commentaire"] = "non prévu"
		f["personne"].(map[string]any)["identifiants"].(map[string]any)["nir"] = "185047512345678"
		f["condamnations"].([]any)[0].(map[string]any)["peines"].([]any)[0].(map[string]any)["duree"].(map[string]any)["semaines"] = 2
		r := e.post(t, c, sim.FichePenale, "inconnu", f)
		assert.Equal(t, []string{
			"/commentaire",
			"/condamnations/0/peines/0/duree/semaines",
			"/personne/identifiants/nir",
		}, r.pointers(t))
		p := r.problem(t)
		assert.Contains(t, p.Errors[0].Detail, "champ inconnu")
		assert.NotContains(t, string(r.body), "185047512345678", "a 422 never repeats the values sent")
	})

	t.Run("an impossible date and a malformed date-time are refused with their pointers", func(t *testing.T) {
		f := fiche("1", "NCY01", 1, dupont())
		f["dateEcrou"] = "2024-02-31"
		f["personne"].(map[string]any)["dateNaissance"] = "12/04/1985"
		r := e.post(t, c, sim.FichePenale, "date", f)
		assert.Equal(t, []string{"/dateEcrou", "/personne/dateNaissance"}, r.pointers(t))
		assert.Contains(t, r.problem(t).Errors[0].Detail, "date invalide")

		ev := custody(5, "ECROU", "1", "NCY01", dupont())
		ev["date"] = "2025-03-01 08:15"
		assert.Equal(t, []string{"/date"}, e.post(t, c, sim.EvenementDetention, "date-heure", ev).pointers(t))
	})

	t.Run("each violation gets its own entry, in French", func(t *testing.T) {
		m := mesure("M1", 1, dupont())
		delete(m, "statut")
		m["typeMesure"] = "XYZ"
		m["source"] = "GENESIS"
		m["version"] = "3"
		m["personne"].(map[string]any)["prenoms"] = []any{}
		r := e.post(t, c, sim.Mesure, "plusieurs", m)
		assert.Equal(t, []string{"/personne/prenoms", "/source", "/statut", "/typeMesure", "/version"}, r.pointers(t))
		details := map[string]string{}
		for _, v := range r.problem(t).Errors {
			details[v.Pointer] = v.Detail
		}
		assert.Equal(t, "champ obligatoire absent", details["/statut"])
		assert.Equal(t, "valeur attendue : APPI", details["/source"])
		assert.Equal(t, "type invalide : entier attendu, chaîne reçu", details["/version"])
		assert.Contains(t, details["/typeMesure"], "valeurs acceptées : SP, TIG")
		assert.Equal(t, "au moins 1 élément(s) attendu(s)", details["/personne/prenoms"])
	})

	t.Run("a version beyond 64 bits and an absurd exponent are refused, not computed", func(t *testing.T) {
		b, err := json.Marshal(mesure("M1", 1, dupont()))
		require.NoError(t, err)
		huge := bytes.Replace(b, []byte(`"version":1`), []byte(`"version":92233720368547758070`), 1)
		assert.Equal(t, []string{"/version"}, e.postRaw(t, c, sim.Mesure, "64-bits", "application/json", huge).pointers(t))
		expo := bytes.Replace(b, []byte(`"version":1`), []byte(`"version":1e999999`), 1)
		assert.Equal(t, []string{"/version"}, e.postRaw(t, c, sim.Mesure, "exposant", "application/json", expo).pointers(t))
	})

	t.Run("a version written 4.0 or 5e0 is an integer", func(t *testing.T) {
		b, err := json.Marshal(mesure("M-float", 1, dupont()))
		require.NoError(t, err)
		r := e.postRaw(t, c, sim.Mesure, "quatre", "application/json", bytes.Replace(b, []byte(`"version":1`), []byte(`"version":4.0`), 1))
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		assert.Equal(t, int64(4), e.srv.Current(sim.Mesure)["M-float"].Version)
		r = e.postRaw(t, c, sim.Mesure, "cinq", "application/json", bytes.Replace(b, []byte(`"version":1`), []byte(`"version":5e0`), 1))
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		assert.Equal(t, int64(5), e.srv.Current(sim.Mesure)["M-float"].Version)
	})

	assert.Len(t, e.srv.History(sim.Mesure), 2, "only the last subtest stored mesures")
	assert.Len(t, e.srv.History(sim.FichePenale), 0, "a 422 stores nothing")
}

func TestIdempotency(t *testing.T) {
	t.Run("the same key and the same JSON value replays 200 with the original Accuse", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		first := e.postRaw(t, c, sim.Mesure, "cle-1", "application/json",
			[]byte(`{"source":"APPI","version":2,"numeroMesure":"M7","typeMesure":"TIG","juridiction":"TJ METZ",
			"dateDecision":"2025-01-02","statut":"EN_COURS","personne":{"nom":"MARTIN","prenoms":["Léa"],
			"dateNaissance":"1990-01-01","identifiants":{"numeroDossierAppi":"202300000001"}}}`))
		require.Equal(t, http.StatusCreated, first.status, "body: %s", first.body)
		e.clock.Advance(time.Minute)
		again := e.postRaw(t, c, sim.Mesure, "cle-1", "application/json",
			[]byte(`{ "personne": {"identifiants":{"numeroDossierAppi":"202300000001"}, "dateNaissance":"1990-01-01",
			"prenoms":["Léa"], "nom":"MARTIN"}, "statut":"EN_COURS", "dateDecision":"2025-01-02",
			"juridiction":"TJ METZ", "typeMesure":"TIG", "numeroMesure":"M7", "version":2.0, "source":"APPI" }`))
		require.Equal(t, http.StatusOK, again.status, "body: %s", again.body)
		assert.Equal(t, first.accuse(t), again.accuse(t))
		assert.JSONEq(t, string(first.body), string(again.body))
		assert.Len(t, e.srv.History(sim.Mesure), 1, "a replay stores nothing")
	})

	t.Run("the same key with another body answers 409 and changes nothing", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		require.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "cle", mesure("M1", 1, dupont())).status)
		r := e.post(t, c, sim.Mesure, "cle", mesure("M1", 2, dupont()))
		require.Equal(t, http.StatusConflict, r.status)
		r.problem(t)
		assert.Equal(t, int64(1), e.srv.Current(sim.Mesure)["M1"].Version)
	})

	t.Run("keys are scoped per client and per endpoint", func(t *testing.T) {
		e := newEnv(t)
		require.Equal(t, http.StatusCreated, e.post(t, e.writer(t), sim.Mesure, "cle", mesure("M1", 1, dupont())).status)
		assert.Equal(t, http.StatusCreated, e.post(t, e.oauthClient(t, otherID, otherSecret), sim.Mesure, "cle", mesure("M1", 2, dupont())).status,
			"another client's key")
		assert.Equal(t, http.StatusCreated, e.post(t, e.writer(t), sim.FichePenale, "cle", fiche("1", "NCY01", 1, dupont())).status,
			"another endpoint's key")
	})

	t.Run("a request that failed does not take its key", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		bad := mesure("M1", 1, dupont())
		bad["inconnu"] = true
		require.Equal(t, http.StatusUnprocessableEntity, e.post(t, c, sim.Mesure, "cle", bad).status)
		assert.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "cle", mesure("M1", 1, dupont())).status)
	})

	t.Run("a key is remembered 30 days, then forgotten", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		require.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "cle", mesure("M1", 1, dupont())).status)
		e.clock.Advance(30*24*time.Hour - time.Second)
		require.Equal(t, http.StatusOK, e.post(t, e.writer(t), sim.Mesure, "cle", mesure("M1", 1, dupont())).status)
		e.clock.Advance(time.Second)
		assert.Equal(t, http.StatusCreated, e.post(t, e.writer(t), sim.Mesure, "cle", mesure("M1", 2, dupont())).status)
	})

	t.Run("a deleted item is forgotten with its keys: the same request stores it again", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		first := e.post(t, c, sim.FichePenale, "cle", fiche("1", "NCY01", 1, dupont())).accuse(t)
		require.NoError(t, e.srv.DeleteItem(sim.FichePenale, sim.FicheKey("1", "NCY01")))
		assert.Empty(t, e.srv.Current(sim.FichePenale))
		r := e.post(t, c, sim.FichePenale, "cle", fiche("1", "NCY01", 1, dupont()))
		require.Equal(t, http.StatusCreated, r.status)
		again := r.accuse(t)
		assert.NotEqual(t, first.ID, again.ID)
		assert.Equal(t, first.DossierID, again.DossierID, "the dossier stays")
		require.ErrorIs(t, e.srv.DeleteItem(sim.FichePenale, "absent@X"), sim.ErrNotFound)
		require.ErrorIs(t, e.srv.DeleteItem("autre", "x"), sim.ErrUnknownKind)
	})
}

func TestNewestWins(t *testing.T) {
	e := newEnv(t)
	c := e.writer(t)
	send := func(kind sim.Kind, key string, body map[string]any) sim.Accuse {
		t.Helper()
		r := e.post(t, c, kind, key, body)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		return r.accuse(t)
	}

	t.Run("an older fiche version is kept as history and does not become current", func(t *testing.T) {
		assert.True(t, send(sim.FichePenale, "f-v2", fiche("E1", "NCY01", 2, dupont())).Courant)
		old := send(sim.FichePenale, "f-v1", fiche("E1", "NCY01", 1, dupont()))
		assert.False(t, old.Courant)
		assert.Equal(t, int64(2), e.srv.Current(sim.FichePenale)[sim.FicheKey("E1", "NCY01")].Version)
		assert.True(t, send(sim.FichePenale, "f-v3", fiche("E1", "NCY01", 3, dupont())).Courant)
		var versions []int64
		for _, it := range e.srv.History(sim.FichePenale) {
			versions = append(versions, it.Version)
		}
		assert.Equal(t, []int64{2, 1, 3}, versions)
	})

	t.Run("the same écrou number at another establishment is another fiche", func(t *testing.T) {
		assert.True(t, send(sim.FichePenale, "f-metz", fiche("E1", "MTZ01", 1, dupont())).Courant)
	})

	t.Run("an older numeroTransmission of a décision does not become current", func(t *testing.T) {
		a := send(sim.Decision, "d-t3", decision("24000000001", 3, dupont()))
		assert.True(t, a.Courant)
		assert.False(t, send(sim.Decision, "d-t2", decision("24000000001", 2, dupont())).Courant)
		cur := e.srv.Current(sim.Decision)[sim.DecisionKey("24000000001", a.DossierID)]
		assert.Equal(t, int64(3), cur.Version)
	})

	t.Run("an older mesure version does not become current", func(t *testing.T) {
		assert.True(t, send(sim.Mesure, "m-10", mesure("M9", 10, dupont())).Courant)
		assert.False(t, send(sim.Mesure, "m-9", mesure("M9", 9, dupont())).Courant)
		assert.True(t, send(sim.Mesure, "m-10-bis", mesure("M9", 10, dupont())).Courant, "an equal version is not older")
	})

	t.Run("a custody event already held is accepted with courant false and changes nothing", func(t *testing.T) {
		first := send(sim.EvenementDetention, "s-40", custody(40, "ECROU", "2024-1234", "NCY01", dupont()))
		assert.True(t, first.Courant)
		dossiers := e.srv.Dossiers()
		again := send(sim.EvenementDetention, "s-40-autre-cle", custody(40, "TRANSFERT", "2024-1234", "NCY01",
			personne("AUTRE", "Personne", "2001-01-01", ecrouIDs("2099-0001", "MTZ01"))))
		assert.False(t, again.Courant)
		assert.Equal(t, first.DossierID, again.DossierID, "answered with the dossier of the event held")
		assert.Equal(t, first.ID, e.srv.Current(sim.EvenementDetention)["40"].ID)
		assert.Equal(t, dossiers, e.srv.Dossiers(), "no dossier created or changed")
	})
}
