package prisme

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"passerelle/connectors/prisme/sim"
)

// fuzzSeeds are pages of the events feed: the contract's two event types with every
// member, notes included, broken variants, and a page the simulator generated.
func fuzzSeeds(t testing.TB) [][]byte {
	t.Helper()
	transfer := `{"curseur":"c1","id":"EVT-2024-0091823","type":"DESSAISISSEMENT","emisLe":"2024-09-16T10:30:12+02:00",` +
		`"dossierId":"DOS-69-2024-000731","dessaisissement":{"personne":{"nom":"MARTIN","prenoms":["Julien","Pierre"],` +
		`"sexe":"M","dateNaissance":"1991-11-02","identifiants":{"numeroDossierAppi":"APPI-69-2024-004512","numerosParquet":["23117654321"]}},` +
		`"juridictionOrigine":"TJ LYON","juridictionDestination":"TJ GRENOBLE","motif":"DEMENAGEMENT","date":"2024-09-16",` +
		`"mesures":[{"numeroMesure":"M-69-2024-018734","typeMesure":"SP","dateDebut":"2024-01-15","dateFin":"2026-01-15","obligations":["SOINS","TRAVAIL"]}],` +
		`"notesEntretien":"NOTE-CANARI","prochainRendezVous":"2024-10-01T09:30:00+02:00",` +
		`"pieces":[{"titre":"Jugement","type":"JUGEMENT","sha256":"82ca71189deadafef2f62a807c9b49979fe81a3e6e1ecb277ca718a93cba1f0b","taille":627}]}}`
	report := `{"curseur":"c2","id":"EVT-2024-0100002","type":"RAPPORT_VALIDE","emisLe":"2024-10-02T08:00:00Z","dossierId":"DOS-1",` +
		`"rapport":{"personne":{"nom":"PETIT","prenoms":["Inès"],"dateNaissance":"1999-03-03","identifiants":{}},"numeroMesure":"M1",` +
		`"typeRapport":"RAPPORT_ANNUEL","validePar":"C. FONTAINE (DPIP)","valideLe":"2024-10-01T17:00:00+02:00",` +
		`"document":{"titre":"Rapport","mediaType":"application/pdf","sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","taille":5,"contenuBase64":"aGVsbG8="}}}`
	seeds := [][]byte{
		[]byte(`{"evenements":[` + transfer + `,` + report + `]}`),
		[]byte(`{"evenements":[]}`),
		[]byte(`{"evenements":[{"curseur":"c3","id":"X","type":"AUDIENCE_FIXEE","notesEntretien":"n"},` + report + `]}`),
		[]byte(`{"evenements":[{"id":"Y","type":"RAPPORT_VALIDE"},{"curseur":"c4","id":42},["notesEntretien"],{"NOTESentretien":{"notesEntretien":1}}]}`),
		[]byte(`{"evenements":[` + transfer + `,` + transfer + `]}`),
	}
	srv := sim.New(sim.Options{Seed: 3, Now: func() time.Time { return time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC) }})
	evs, err := srv.GenerateEvents(4)
	if err != nil {
		t.Fatal(err)
	}
	page, err := json.Marshal(map[string]any{"evenements": evs})
	if err != nil {
		t.Fatal(err)
	}
	return append(seeds, page)
}

// hasNotes reports whether a JSON value has a member named notesEntretien (any case)
// at any depth.
func hasNotes(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.EqualFold(k, notesMember) || hasNotes(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNotes(e) {
				return true
			}
		}
	}
	return false
}

// FuzzDecodeEvents feeds arbitrary pages to the events decoder: it never panics,
// gives every fact its raw bytes without any notes member and either messages or an
// error with a stage, and a position that is the one it was given or a cursor of the
// page.
func FuzzDecodeEvents(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, "")
		f.Add(s, "c1")
	}
	f.Fuzz(func(t *testing.T, body []byte, position string) {
		p, err := decodePage(body, position)
		if err != nil {
			if len(p.batch.Facts) > 0 {
				t.Fatal("an unreadable page gave facts")
			}
			return
		}
		if p.batch.Next != position && !bytes.Contains(body, []byte(p.batch.Next)) {
			t.Fatalf("next %q is neither the position nor in the page", p.batch.Next)
		}
		for i, fact := range p.batch.Facts {
			if len(fact.Raw) == 0 {
				t.Fatalf("fact %d without raw", i)
			}
			var raw any
			if err := json.Unmarshal(fact.Raw, &raw); err != nil {
				t.Fatalf("fact %d: raw is not JSON: %v", i, err)
			}
			if hasNotes(raw) {
				t.Fatalf("fact %d: raw keeps interview notes: %s", i, fact.Raw)
			}
			if again, err := ScrubEvent(fact.Raw); err != nil || !bytes.Equal(again, fact.Raw) {
				t.Fatalf("fact %d: scrubbing is not idempotent", i)
			}
			if fact.Err != nil {
				if fact.Stage != "decode" && fact.Stage != "map" {
					t.Fatalf("fact %d: stage %q", i, fact.Stage)
				}
				if len(fact.Messages) > 0 {
					t.Fatalf("fact %d: both an error and messages", i)
				}
				continue
			}
			if len(fact.Messages) != 1 {
				t.Fatalf("fact %d: %d messages", i, len(fact.Messages))
			}
			m := fact.Messages[0]
			var data any
			if err := json.Unmarshal(m.Data, &data); err != nil || hasNotes(data) {
				t.Fatalf("fact %d: data %s", i, m.Data)
			}
			if fact.Fact == nil || m.FactRef != fact.Fact.Ref || !strings.HasPrefix(m.FactRef, "evenement/") {
				t.Fatalf("fact %d: identity %v, message %s", i, fact.Fact, m.FactRef)
			}
		}
	})
}

func TestDecodePageSkipsASecondCopyOfAnEventInThePage(t *testing.T) {
	seeds := fuzzSeeds(t)
	p, err := decodePage(seeds[4], "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.batch.Facts) != 1 || p.repeats != 1 || p.batch.Next != "c1" {
		t.Fatalf("got %d facts, %d repeats, next %q", len(p.batch.Facts), p.repeats, p.batch.Next)
	}
}

func TestDecodePageWaitsForACursorAndRefusesAPageWithoutAny(t *testing.T) {
	p, err := decodePage([]byte(`{"evenements":[{"curseur":"c1","id":"A","type":"X"},{"id":"B","type":"RAPPORT_VALIDE"}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.batch.Facts) != 0 || p.waiting != 1 || p.batch.Next != "c1" {
		t.Fatalf("an event after the last cursor waits for the next read: %d facts, %d waiting, next %q",
			len(p.batch.Facts), p.waiting, p.batch.Next)
	}
	if _, err := decodePage([]byte(`{"evenements":[{"id":"B","type":"RAPPORT_VALIDE"}]}`), ""); err == nil {
		t.Fatal("a page whose events carry no cursor cannot move the feed: an error, not silence")
	}
	for _, bad := range []string{`[]`, `{"evenements":{}}`, `{}`, `{"evenements":[]} x`, `{"evenements":[1,}`} {
		if _, err := decodePage([]byte(bad), ""); err == nil {
			t.Fatalf("%s is not a page", bad)
		}
	}
}
