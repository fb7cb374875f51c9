package prisme_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/connectortest"
	"passerelle/connectors/prisme"
	"passerelle/pipeline/policy"
	"passerelle/schemas"
)

// reportContent is the document of the report fixture.
var reportContent = []byte("%PDF-1.4 rapport annuel de suivi")

// digest is the hex SHA-256 of b.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// transferEvent is a DESSAISISSEMENT as PRISME sends it, every field filled.
func transferEvent() map[string]any {
	return map[string]any{
		"curseur": "c1", "id": "EVT-2025-0000101", "type": "DESSAISISSEMENT",
		"emisLe": "2025-03-10T10:15:00+01:00", "dossierId": "DOS-54-2025-000042",
		"dessaisissement": map[string]any{
			"personne": map[string]any{
				"nom": "KLEIN", "nomUsage": "WEBER", "prenoms": []any{"Léa", "Marie"}, "sexe": "F",
				"dateNaissance": "1990-07-14", "lieuNaissance": "METZ", "nationalite": "FRA",
				"identifiants": map[string]any{"numeroEcrou": "2025-0042", "codeEtablissement": "MTZ01",
					"numeroDossierAppi": "202300000042", "numerosParquet": []any{"23123456789", "23123456789"}},
			},
			"juridictionOrigine": "TJ NANCY", "juridictionDestination": "TJ METZ", "motif": "DEMENAGEMENT",
			"date": "2025-03-10",
			"mesures": []any{map[string]any{"numeroMesure": "M2024-000123", "typeMesure": "SP",
				"dateDebut": "2024-05-02", "dateFin": "2026-05-02", "obligations": []any{"SOINS", "TRAVAIL"}}},
			"notesEntretien":     "Entretien : NOTE-CANARI-0001",
			"prochainRendezVous": "2025-03-24T14:30:00+01:00",
			"pieces": []any{map[string]any{"titre": "Jugement de condamnation", "type": "JUGEMENT",
				"sha256": strings.ToUpper(digest([]byte("jugement"))), "taille": 8}},
		},
	}
}

// reportEvent is a RAPPORT_VALIDE as PRISME sends it.
func reportEvent() map[string]any {
	return map[string]any{
		"curseur": "c2", "id": "EVT-2025-0000102", "type": "RAPPORT_VALIDE",
		"emisLe": "2025-03-11T08:00:00Z", "dossierId": "DOS-54-2025-000042",
		"rapport": map[string]any{
			"personne": map[string]any{"nom": "KLEIN", "prenoms": []any{"Léa"}, "dateNaissance": "1990-07-14",
				"identifiants": map[string]any{}},
			"numeroMesure": "M2024-000123", "typeRapport": "RAPPORT_ANNUEL", "validePar": "C. FONTAINE (DPIP)",
			"valideLe": "2025-03-10T17:45:00+01:00",
			"document": map[string]any{"titre": "Rapport annuel de suivi", "mediaType": "application/pdf",
				"sha256": digest(reportContent), "taille": len(reportContent),
				"contenuBase64": base64.StdEncoding.EncodeToString(reportContent)},
		},
	}
}

// at walks a JSON tree by member names and returns the object holding the last one.
func at(v map[string]any, path ...string) map[string]any {
	for _, p := range path {
		switch next := v[p].(type) {
		case map[string]any:
			v = next
		case []any:
			v = next[0].(map[string]any)
		}
	}
	return v
}

// encode renders an event as JSON.
func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestEventsMapToCanonicalMessages(t *testing.T) {
	reg, err := schemas.Load()
	require.NoError(t, err)
	cases := []struct {
		name  string
		event func() map[string]any
		edit  func(ev map[string]any)
		typ   string
		want  string // the message's data
	}{
		{
			name:  "a case transfer carries every field the contract names, the next appointment included, and no notes",
			event: transferEvent, typ: canonical.TypeCaseTransfer,
			want: `{"eventId":"EVT-2025-0000101","prismeFileId":"DOS-54-2025-000042","emittedAt":"2025-03-10T10:15:00+01:00",
				"person":{"lastName":"KLEIN","usageName":"WEBER","firstNames":["Léa","Marie"],"sex":"F","birthDate":"1990-07-14",
					"birthPlace":"METZ","nationality":"FRA","identifiers":{"committalNumber":"2025-0042","establishmentCode":"MTZ01",
					"appiFileNumber":"202300000042","prosecutionNumbers":["23123456789"],"prismeFileId":"DOS-54-2025-000042"}},
				"originCourt":"TJ NANCY","destinationCourt":"TJ METZ","reason":"DEMENAGEMENT","date":"2025-03-10",
				"measures":[{"measureNumber":"M2024-000123","kind":"SP","startDate":"2024-05-02","endDate":"2026-05-02","obligations":["SOINS","TRAVAIL"]}],
				"documents":[{"title":"Jugement de condamnation","type":"JUGEMENT","sha256":"` + digest([]byte("jugement")) + `","size":8}],
				"nextAppointment":"2025-03-24T14:30:00+01:00"}`,
		},
		{
			name:  "a transfer without appointment, documents or obligations leaves them out",
			event: transferEvent, typ: canonical.TypeCaseTransfer,
			edit: func(ev map[string]any) {
				d := at(ev, "dessaisissement")
				delete(d, "prochainRendezVous")
				delete(d, "pieces")
				delete(at(ev, "dessaisissement", "mesures"), "obligations")
				delete(at(ev, "dessaisissement", "personne"), "identifiants")
			},
			want: `{"eventId":"EVT-2025-0000101","prismeFileId":"DOS-54-2025-000042","emittedAt":"2025-03-10T10:15:00+01:00",
				"person":{"lastName":"KLEIN","usageName":"WEBER","firstNames":["Léa","Marie"],"sex":"F","birthDate":"1990-07-14",
					"birthPlace":"METZ","nationality":"FRA","identifiers":{"prismeFileId":"DOS-54-2025-000042"}},
				"originCourt":"TJ NANCY","destinationCourt":"TJ METZ","reason":"DEMENAGEMENT","date":"2025-03-10",
				"measures":[{"measureNumber":"M2024-000123","kind":"SP","startDate":"2024-05-02","endDate":"2026-05-02"}]}`,
		},
		{
			name:  "a transfer of no measure has an empty list, not none",
			event: transferEvent, typ: canonical.TypeCaseTransfer,
			edit: func(ev map[string]any) { at(ev, "dessaisissement")["mesures"] = []any{} },
		},
		{
			name:  "a validated report carries its document with its content",
			event: reportEvent, typ: canonical.TypeReport,
			want: `{"eventId":"EVT-2025-0000102","prismeFileId":"DOS-54-2025-000042","emittedAt":"2025-03-11T08:00:00Z",
				"person":{"lastName":"KLEIN","firstNames":["Léa"],"birthDate":"1990-07-14","identifiers":{"prismeFileId":"DOS-54-2025-000042"}},
				"measureNumber":"M2024-000123","kind":"RAPPORT_ANNUEL","validatedBy":"C. FONTAINE (DPIP)",
				"validatedAt":"2025-03-10T17:45:00+01:00",
				"document":{"title":"Rapport annuel de suivi","mediaType":"application/pdf","sha256":"` + digest(reportContent) + `",
					"size":` + jsonInt(len(reportContent)) + `,"contentBase64":"` + base64.StdEncoding.EncodeToString(reportContent) + `"}}`,
		},
		{
			name:  "a pre-sentence report has no measure number",
			event: reportEvent, typ: canonical.TypeReport,
			edit: func(ev map[string]any) {
				r := at(ev, "rapport")
				delete(r, "numeroMesure")
				r["typeRapport"] = "PRE_SENTENCIEL"
			},
		},
		{
			name:  "report content wrapped on several lines is put back on one",
			event: reportEvent, typ: canonical.TypeReport,
			edit: func(ev map[string]any) {
				b64 := base64.StdEncoding.EncodeToString(reportContent)
				at(ev, "rapport", "document")["contenuBase64"] = b64[:20] + "\r\n" + b64[20:]
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.event()
			if tc.edit != nil {
				tc.edit(ev)
			}
			m, err := prisme.DecodeEvent(encode(t, ev))
			require.NoError(t, err)
			assert.Equal(t, tc.typ, m.Type)
			assert.Equal(t, canonical.SystemPrisme, m.FactSystem)
			assert.Equal(t, "evenement/"+ev["id"].(string), m.FactRef)
			assert.Equal(t, int64(0), m.FactVersion)
			assert.Equal(t, "PRISME:evenement/"+ev["id"].(string)+":0", m.IdempotencyKey(), "APPI's reference_externe")
			assert.Empty(t, m.Subject, "the pipeline resolves the subject")
			assert.Equal(t, prisme.EventSource, m.Source)
			require.NoError(t, connectortest.ValidateMessage(reg, m))
			if tc.want != "" {
				assert.JSONEq(t, tc.want, string(m.Data))
			}
			assert.NotContains(t, string(m.Data), "NOTE-CANARI")
		})
	}
}

// jsonInt renders n.
func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestEventsThatCannotBeMappedNameTheirFields(t *testing.T) {
	cases := []struct {
		name     string
		event    func() map[string]any
		edit     func(ev map[string]any)
		sentinel error
		paths    []string
	}{
		{"a transfer without measures is incomplete", transferEvent,
			func(ev map[string]any) { delete(at(ev, "dessaisissement"), "mesures") },
			prisme.ErrInvalidEvent, []string{"dessaisissement.mesures: required"}},
		{"a measure without number or kind is incomplete", transferEvent,
			func(ev map[string]any) {
				m := at(ev, "dessaisissement", "mesures")
				delete(m, "numeroMesure")
				m["typeMesure"] = " "
			},
			prisme.ErrInvalidEvent, []string{"dessaisissement.mesures[0].numeroMesure: required", "dessaisissement.mesures[0].typeMesure: required"}},
		{"an impossible transfer date is refused", transferEvent,
			func(ev map[string]any) { at(ev, "dessaisissement")["date"] = "2025-02-31" },
			prisme.ErrInvalidEvent, []string{"dessaisissement.date: not a YYYY-MM-DD calendar date"}},
		{"an appointment that is not an instant is refused", transferEvent,
			func(ev map[string]any) { at(ev, "dessaisissement")["prochainRendezVous"] = "lundi 14h" },
			prisme.ErrInvalidEvent, []string{"dessaisissement.prochainRendezVous: not an RFC 3339 date-time"}},
		{"a person without names or birth date is incomplete", transferEvent,
			func(ev map[string]any) {
				p := at(ev, "dessaisissement", "personne")
				delete(p, "nom")
				p["prenoms"] = []any{}
				p["dateNaissance"] = "14/07/1990"
			},
			prisme.ErrInvalidEvent, []string{"dessaisissement.personne.nom: required", "dessaisissement.personne.prenoms: at least one first name required",
				"dessaisissement.personne.dateNaissance: not a YYYY-MM-DD calendar date"}},
		{"a document whose digest is not hex is refused", transferEvent,
			func(ev map[string]any) { at(ev, "dessaisissement", "pieces")["sha256"] = "abc" },
			prisme.ErrInvalidEvent, []string{"dessaisissement.pieces[0].sha256: not a hex SHA-256"}},
		{"a transfer event without its transfer is incomplete", transferEvent,
			func(ev map[string]any) { delete(ev, "dessaisissement"); delete(ev, "dossierId") },
			prisme.ErrInvalidEvent, []string{"dossierId: required", "dessaisissement: required"}},
		{"a report whose content does not match its digest and size is refused", reportEvent,
			func(ev map[string]any) {
				at(ev, "rapport", "document")["contenuBase64"] = base64.StdEncoding.EncodeToString([]byte("autre chose"))
			},
			prisme.ErrInvalidEvent, []string{"rapport.document.sha256: does not match the content", "rapport.document.taille: does not match the content"}},
		{"a report whose content is not base64 is refused", reportEvent,
			func(ev map[string]any) { at(ev, "rapport", "document")["contenuBase64"] = "pas du base64 !" },
			prisme.ErrInvalidEvent, []string{"rapport.document.contenuBase64: not standard padded base64"}},
		{"a report without validation is incomplete", reportEvent,
			func(ev map[string]any) {
				r := at(ev, "rapport")
				delete(r, "validePar")
				delete(r, "valideLe")
				delete(r, "document")
			},
			prisme.ErrInvalidEvent, []string{"rapport.validePar: required", "rapport.valideLe: required", "rapport.document: required"}},
		{"an event without a type is incomplete", reportEvent,
			func(ev map[string]any) { delete(ev, "type") },
			prisme.ErrInvalidEvent, []string{"type: required"}},
		{"a type the hub does not carry is refused", reportEvent,
			func(ev map[string]any) { ev["type"] = "AUDIENCE_FIXEE" },
			prisme.ErrUnknownEventType, nil},
		{"a member of the wrong JSON type is malformed", transferEvent,
			func(ev map[string]any) { at(ev, "dessaisissement")["mesures"] = "M1" },
			prisme.ErrMalformedEvent, []string{`"dessaisissement.mesures"`}},
		{"an event without an id is malformed", reportEvent,
			func(ev map[string]any) { delete(ev, "id") },
			prisme.ErrMalformedEvent, []string{"id: a printable identifier"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.event()
			tc.edit(ev)
			_, err := prisme.DecodeEvent(encode(t, ev))
			require.ErrorIs(t, err, tc.sentinel)
			assert.True(t, connectors.IsPermanent(err))
			for _, p := range tc.paths {
				assert.Contains(t, err.Error(), p)
			}
			for _, personal := range []string{"KLEIN", "Léa", "1990", "14/07", "lundi", "NOTE-CANARI", "FONTAINE", "autre chose"} {
				assert.NotContains(t, err.Error(), personal, "an error names fields, never values")
			}
		})
	}
	t.Run("an event that is not an object is malformed", func(t *testing.T) {
		_, err := prisme.DecodeEvent([]byte(`["EVT-1"]`))
		require.ErrorIs(t, err, prisme.ErrMalformedEvent)
	})
}

func TestScrubEventDropsEveryInterviewNote(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"the contract's member inside the transfer", `{"a":1,"dessaisissement":{"notesEntretien":"x","date":"d"}}`,
			`{"a":1,"dessaisissement":{"date":"d"}}`},
		{"in another letter case, at the top", `{"NotesEntretien":{"y":["x"]},"b":[1.50,true,null]}`, `{"b":[1.50,true,null]}`},
		{"with an escaped name", `{"notes\u0045ntretien":"x","c":"\u00e9<&>"}`, `{"c":"é<&>"}`},
		{"inside arrays", `[{"notesentretien":"x"},{"k":"v"}]`, `[{},{"k":"v"}]`},
		{"every copy of a repeated member", `{"notesEntretien":"x","id":"1","notesEntretien":"y"}`, `{"id":"1"}`},
		{"nothing else", `{"curseur":"c","notes":"kept","entretien":"kept"}`, `{"curseur":"c","notes":"kept","entretien":"kept"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := prisme.ScrubEvent([]byte(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(out), "order, numbers and text kept")
		})
	}
	for _, bad := range []string{``, `{"a":`, `{} {}`} {
		_, err := prisme.ScrubEvent([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestTheNextAppointmentNeverReachesTheProsecution(t *testing.T) {
	m, err := prisme.DecodeEvent(encode(t, transferEvent()))
	require.NoError(t, err)
	require.Contains(t, string(m.Data), `"nextAppointment"`, "carried in the canonical message")
	for _, r := range []string{policy.Prosecution, policy.Other} {
		_, err := policy.Compile(m.Type, r, []string{"eventId", "nextAppointment"})
		require.Error(t, err, "a %s route naming it cannot be configured", r)
	}
	p, err := policy.Compile(m.Type, policy.Enforcement, []string{"eventId", "nextAppointment", "measures[].measureNumber"})
	require.NoError(t, err, "APPI (JAP and SPIP) may receive it")
	out, err := p.Apply(m.Data)
	require.NoError(t, err)
	assert.JSONEq(t, `{"eventId":"EVT-2025-0000101","nextAppointment":"2025-03-24T14:30:00+01:00","measures":[{"measureNumber":"M2024-000123"}]}`, string(out))
}
