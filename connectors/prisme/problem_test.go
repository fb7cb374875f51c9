package prisme

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/connectors"
	"passerelle/connectors/prisme/sim"
)

// problemSeeds are problem details as PRISME sends them, and broken ones.
var problemSeeds = []string{
	`{"type":"urn:prisme:probleme:validation","title":"Données non conformes au schéma","status":422,` +
		`"detail":"2 violation(s) du schéma FichePenale","errors":[{"pointer":"/personne/dateNaissance",` +
		`"detail":"date invalide : AAAA-MM-JJ attendu, et une date réelle du calendrier"},` +
		`{"pointer":"/personne/nomInconnu","detail":"champ inconnu : PRISME ne stocke que les champs nommés par son schéma"}]}`,
	`{"type":"urn:prisme:probleme:cle-deja-utilisee","title":"Clé d'idempotence déjà utilisée","status":409}`,
	`{"title":"x","status":"422"}`,
	`{"errors":[{"pointer":7}]}`,
	`{"errors":null,"extension":{"a":[1,2,3]}}`,
	`{} {}`,
	`[]`,
	``,
	`{"title":"line\nbreak\u001b[31m","type":"urn:x:évil slug"}`,
}

func TestDecodeProblemReadsPrismesProblemDetails(t *testing.T) {
	p, err := DecodeProblem([]byte(problemSeeds[0]))
	require.NoError(t, err)
	assert.Equal(t, 422, p.Status)
	assert.Equal(t, "urn:prisme:probleme:validation", p.Type)
	require.Len(t, p.Errors, 2)
	assert.Equal(t, "/personne/nomInconnu", p.Errors[1].Pointer)

	for _, bad := range []string{`{"title":"x","status":"422"}`, `{} {}`, `[]`, ``, `{"errors":[{"pointer":7}]}`} {
		_, err := DecodeProblem([]byte(bad))
		assert.ErrorIs(t, err, ErrBadProblem, "%s", bad)
	}
	_, err = DecodeProblem([]byte(`{"detail":"` + strings.Repeat("x", MaxProblemBytes) + `"}`))
	assert.ErrorIs(t, err, ErrProblemTooLarge)
}

func TestAStatusErrorKeepsPointersAndRuleWordsNeverTheDetails(t *testing.T) {
	body := `{"type":"urn:prisme:probleme:validation","title":"Données non conformes","status":422,` +
		`"detail":"DUPONT Jean né le 12/04/1985 refusé","errors":[` +
		`{"pointer":"/personne/dateNaissance","detail":"la valeur 12/04/1985 n'est pas une date valide"},` +
		`{"pointer":"/personne/nom","detail":"DUPONT : valeur non autorisée"},` +
		`{"pointer":"DUPONT","detail":"?"},` +
		`{"pointer":"/personne/prenoms","detail":"au moins 1 élément(s) attendu(s)"},` +
		`{"pointer":"","detail":"document non conforme au schéma"}]}`
	e := statusError(422, []byte(body), ErrRefused)
	assert.Equal(t, "prisme: 422 Données non conformes [validation]: /personne/dateNaissance (format), "+
		"/personne/nom (enum), (unreadable pointer) (…), /personne/prenoms (min-items), (document) (…)", e.Error())
	for _, leak := range []string{"DUPONT", "Jean", "1985"} {
		assert.NotContains(t, e.Error(), leak)
	}
	assert.ErrorIs(t, e, ErrRefused)
}

func TestAStatusErrorListsAtMostTenViolations(t *testing.T) {
	var errs []string
	for range 25 {
		errs = append(errs, `{"pointer":"/a","detail":"champ obligatoire absent"}`)
	}
	e := statusError(422, []byte(`{"title":"t","errors":[`+strings.Join(errs, ",")+`]}`), ErrRefused)
	assert.Len(t, e.Violations, MaxViolations)
	assert.Equal(t, 15, e.More)
	assert.True(t, strings.HasSuffix(e.Error(), "/a (required) (+15 more)"), e.Error())
}

func TestAnAnswerThatIsNotProblemDetailsIsNamedByItsStatus(t *testing.T) {
	e := statusError(502, []byte("<html>Bad gateway</html>"), ErrUnavailable)
	assert.Equal(t, "prisme: 502 Bad Gateway", e.Error())
	e = statusError(400, []byte(problemSeeds[len(problemSeeds)-1]), ErrRefused)
	assert.Equal(t, "prisme: 400 linebreak[31m", e.Error(), "control characters and an odd type are dropped")
}

func TestRuleOfNamesTheRuleOfEachDetailPrismeWrites(t *testing.T) {
	tests := map[string]string{
		"champ obligatoire absent": "required",
		"champ inconnu : PRISME ne stocke que les champs nommés par son schéma":                        "unknown-field",
		"type invalide : entier attendu, chaîne reçu":                                                  "type",
		"valeur non autorisée ; valeurs acceptées : M, F":                                              "enum",
		"valeur attendue : GENESIS":                                                                    "const",
		"date invalide : AAAA-MM-JJ attendu, et une date réelle du calendrier":                         "format",
		"date-heure invalide : RFC 3339 attendu":                                                       "format",
		"format email non respecté":                                                                    "format",
		"au moins 1 élément(s) attendu(s)":                                                             "min-items",
		"au plus 3 élément(s) attendu(s)":                                                              "max-items",
		"au moins 2 caractère(s) attendu(s)":                                                           "min-length",
		"au plus 128 caractère(s) attendu(s)":                                                          "max-length",
		"valeur inférieure au minimum 0":                                                               "minimum",
		"valeur supérieure au maximum 10":                                                              "maximum",
		"valeur ne respectant pas le motif ^[0-9]{4}-[0-9]{2}-[0-9]{2}$":                               "pattern",
		"entier hors de la plage gérée par PRISME (64 bits signés)":                                    "range",
		"nombre hors de la plage acceptée (au plus 64 caractères, exposant décimal entre -308 et 308)": "range",
		"valeur interdite à cet endroit":                                                               "forbidden",
		"valeur non conforme au schéma (règle properties/x/dependent)":                                 "…",
		"": "…",
	}
	for detail, want := range tests {
		assert.Equal(t, want, ruleOf(detail), detail)
	}
}

func TestInvalidTokenReadsTheBearerChallenge(t *testing.T) {
	tests := []struct {
		values []string
		want   bool
	}{
		{[]string{`Bearer error="invalid_token", error_description="jeton inconnu, expire ou revoque"`}, true},
		{[]string{`bearer realm="prisme", error=invalid_token`}, true},
		{[]string{`Basic realm="prisme"`, `Bearer error="invalid_token"`}, true},
		{[]string{`Bearer realm="prisme"`}, false},
		{[]string{`Bearer error="insufficient_scope", scope="flux.ecriture"`}, false},
		{[]string{`Basic error="invalid_token"`}, false},
		{nil, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.values {
			h.Add("WWW-Authenticate", v)
		}
		assert.Equal(t, tt.want, invalidToken(h), "%q", tt.values)
	}
}

func TestRetryAfterReadsSecondsAndDatesAndIsCapped(t *testing.T) {
	h := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	assert.Equal(t, 7*time.Second, retryAfter(h("7")))
	assert.Equal(t, time.Duration(0), retryAfter(h("0")))
	assert.Equal(t, time.Duration(0), retryAfter(h("-3")))
	assert.Equal(t, time.Duration(0), retryAfter(h("bientôt")))
	assert.Equal(t, time.Duration(0), retryAfter(http.Header{}))
	assert.Equal(t, maxRetryAfter, retryAfter(h("99999999999999")))
	assert.Equal(t, maxRetryAfter, retryAfter(h(time.Now().Add(48*time.Hour).UTC().Format(http.TimeFormat))))
	d := retryAfter(h(time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)))
	assert.Greater(t, d, 25*time.Second)
	assert.LessOrEqual(t, d, 30*time.Second)
}

func TestEveryStatusIsClassified(t *testing.T) {
	accuse := `{"id":"FP-000001","dossierId":"D-1","recuLe":"2025-03-14T09:30:00Z","courant":false}`
	tests := []struct {
		status    int
		body      string
		permanent bool
		class     error
	}{
		{201, accuse, false, nil},
		{200, accuse, false, nil},
		{201, `{"id":"FP-1"}`, false, ErrUnexpectedAnswer},
		{201, `not json`, false, ErrUnexpectedAnswer},
		{400, problemSeeds[1], true, ErrRefused},
		{409, problemSeeds[1], true, ErrRefused},
		{413, ``, true, ErrRefused},
		{415, ``, true, ErrRefused},
		{422, problemSeeds[0], true, ErrRefused},
		{429, ``, false, ErrUnavailable},
		{500, ``, false, ErrUnavailable},
		{502, ``, false, ErrUnavailable},
		{503, ``, false, ErrUnavailable},
		{401, ``, false, ErrUnauthorized},
		{403, ``, false, ErrUnauthorized},
		{302, ``, false, ErrUnexpectedAnswer},
		{404, ``, false, ErrUnexpectedAnswer},
		{405, ``, false, ErrUnexpectedAnswer},
	}
	for _, tt := range tests {
		rc, err := receiptOf(PathFichesPenales, answer{status: tt.status, header: http.Header{}, body: []byte(tt.body)})
		if tt.class == nil {
			require.NoError(t, err, "%d", tt.status)
			assert.Equal(t, "FP-000001", rc.ID)
			assert.Equal(t, []connectors.Identifier{{System: "PRISME", Value: "D-1"}}, rc.Identifiers)
			assert.JSONEq(t, accuse, string(rc.Detail))
			continue
		}
		require.Error(t, err, "%d", tt.status)
		assert.Equal(t, tt.permanent, connectors.IsPermanent(err), "%d: %v", tt.status, err)
		assert.ErrorIs(t, err, tt.class, "%d", tt.status)
		if !tt.permanent {
			assert.ErrorIs(t, err, connectors.ErrTransient, "%d", tt.status)
		}
	}
}

func TestAForbiddenScopeFromPrismeIsAnOutage(t *testing.T) {
	// A real 403 from the simulator: a token for a client that may only read.
	srv := sim.New(sim.Options{Clients: []sim.Client{{ID: "lecteur", Secret: "s", Scopes: []string{sim.ScopeLecture}}}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c := newClient(Options{URL: ts.URL, ClientID: "lecteur", ClientSecret: "s", Scopes: []string{sim.ScopeLecture},
		Timeout: 5 * time.Second, HTTPClient: ts.Client()}, zap.NewNop())
	t.Cleanup(c.close)

	a, err := c.post(t.Context(), PathFichesPenales, "k-1", "", []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, a.status)
	_, err = receiptOf(PathFichesPenales, a)
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.False(t, connectors.IsPermanent(err))
	assert.Contains(t, err.Error(), "prisme: 403 Droits insuffisants [portee-insuffisante]: the token lacks this endpoint's scope")
}

func TestAccuseDecoding(t *testing.T) {
	a, err := DecodeAccuse([]byte(`{"id":"MES-000002","dossierId":"D-000001","recuLe":"2025-03-14T09:30:00.5Z","courant":true,"extra":1}`))
	require.NoError(t, err)
	assert.Equal(t, Accuse{ID: "MES-000002", DossierID: "D-000001", RecuLe: time.Date(2025, 3, 14, 9, 30, 0, 5e8, time.UTC), Courant: true}, a)

	a, err = DecodeAccuse([]byte(`{"id":"X","dossierId":"D","recuLe":"hier"}`))
	require.NoError(t, err, "recuLe and courant are not needed to record a success")
	assert.True(t, a.RecuLe.IsZero())

	for _, bad := range []string{`{"dossierId":"D"}`, `{"id":"X","dossierId":""}`, `{"id":"X\n","dossierId":"D"}`, `{"id":1,"dossierId":"D"}`, `[]`, `{"id":"X","dossierId":"D"} {}`} {
		_, err := DecodeAccuse([]byte(bad))
		assert.ErrorIs(t, err, ErrBadAccuse, bad)
	}
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

func FuzzDecodeProblem(f *testing.F) {
	for _, s := range problemSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodeProblem(body)
		if err == nil {
			require.NotNil(t, p)
		}
		e := statusError(422, body, ErrRefused)
		msg := e.Error()
		require.True(t, printable(msg), "%q", msg)
		require.LessOrEqual(t, len(e.Violations), MaxViolations)
		if p == nil {
			return
		}
		// The detail never reaches the error: without it, the error reads the same.
		p.Detail = ""
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(p))
		if buf.Len() <= MaxProblemBytes {
			require.Equal(t, msg, statusError(422, buf.Bytes(), ErrRefused).Error())
		}
	})
}

func FuzzDecodeAccuse(f *testing.F) {
	for _, s := range []string{
		`{"id":"FP-000001","dossierId":"D-000001","recuLe":"2025-03-14T09:30:00Z","courant":true}`,
		`{"id":"FP-000001","dossierId":"D-000001"}`,
		`{"id":"","dossierId":"D"}`, `{"id":null}`, `null`, `{}`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := DecodeAccuse(body)
		if err != nil {
			require.ErrorIs(t, err, ErrBadAccuse)
			return
		}
		require.NotEmpty(t, a.ID)
		require.NotEmpty(t, a.DossierID)
		require.True(t, printable(a.ID) && printable(a.DossierID))
		rc, err := receiptOf(PathMesures, answer{status: 201, body: body})
		require.NoError(t, err)
		require.True(t, json.Valid(rc.Detail))
	})
}
