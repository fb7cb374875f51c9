package prisme_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/connectortest"
)

// noteCanary is an interview note that must leave no trace anywhere in the hub.
const noteCanary = "NOTE-CANARI-7f3a: la personne confie ses difficultés"

func TestInterviewNotesLeaveNoTraceInTheHub(t *testing.T) {
	e := startFeed(t, 9)
	e.generate(t, 12) // generated transfers carry notes of their own
	var notes []string
	for _, ev := range e.sim.Events() {
		if ev.Dessaisissement != nil && ev.Dessaisissement.NotesEntretien != "" {
			notes = append(notes, ev.Dessaisissement.NotesEntretien)
		}
	}
	require.NotEmpty(t, notes, "the fixture must carry notes for the test to prove anything")
	quoted := strings.ReplaceAll(noteCanary, "é", `\u00e9`)
	for i, js := range []string{
		// a good transfer, its notes where the contract puts them
		transferJSON(t, "EVT-N-1", func(ev map[string]any) { at(ev, "dessaisissement")["notesEntretien"] = noteCanary }),
		// a transfer that fails to map (an impossible date): quarantined, raw kept
		transferJSON(t, "EVT-N-2", func(ev map[string]any) {
			d := at(ev, "dessaisissement")
			d["notesEntretien"], d["date"] = noteCanary, "2025-02-31"
		}),
		// a transfer that fails to decode (a member of the wrong type)
		transferJSON(t, "EVT-N-3", func(ev map[string]any) {
			d := at(ev, "dessaisissement")
			d["notesEntretien"], d["mesures"] = noteCanary, 7
		}),
		// notes where the contract does not put them, under other spellings
		`{"id":"EVT-N-4","type":"RAPPORT_VALIDE","emisLe":"x","NOTESENTRETIEN":"` + noteCanary + `","rapport":{"notes\u0045ntretien":"` + quoted + `"}}`,
		// an event of a type the hub skips
		`{"id":"EVT-N-5","type":"ENTRETIEN_REALISE","notesEntretien":"` + noteCanary + `"}`,
		// notes as the value of the notes' member in an array
		`{"id":"EVT-N-6","type":"DESSAISISSEMENT","dessaisissement":{"mesures":[{"notesEntretien":["` + noteCanary + `"]}]}}`,
	} {
		c := e.raw(t, js)
		require.NotEmpty(t, c, "event %d", i)
	}
	notes = append(notes, noteCanary, "NOTE-CANARI-7f3a")

	src, logs := e.source(t, 4)
	reads := readAll(t, src, "")
	facts := connectortest.Facts(reads)
	require.Len(t, facts, 12+5, "every event but the skipped one is a fact")
	failed := 0
	for i, f := range facts {
		texts := []string{string(f.Raw)}
		for _, m := range f.Messages {
			texts = append(texts, string(m.Data), fmt.Sprint(*m))
		}
		if f.Err != nil {
			failed++
			texts = append(texts, f.Err.Error())
		}
		msgs, err := src.Decode(t.Context(), f.Raw, f.ContentType)
		if err != nil {
			texts = append(texts, err.Error())
		}
		for _, m := range msgs {
			texts = append(texts, string(m.Data))
		}
		for _, text := range texts {
			for _, n := range notes {
				require.NotContains(t, text, n, "fact %d", i)
			}
			assert.NotContains(t, strings.ToLower(text), "notesentretien", "fact %d: not even the member's name", i)
		}
	}
	assert.Equal(t, 4, failed, "the broken events are quarantined, with raw bytes cleaned")
	for _, entry := range logs.All() {
		for _, n := range notes {
			assert.NotContains(t, entry.Message, n)
			for k, v := range entry.ContextMap() {
				assert.NotContains(t, k+fmt.Sprint(v), n)
			}
		}
	}
}

// transferJSON is the transfer fixture with id, edited.
func transferJSON(t *testing.T, id string, edit func(ev map[string]any)) string {
	t.Helper()
	ev := transferEvent()
	delete(ev, "curseur")
	ev["id"] = id
	edit(ev)
	return string(encode(t, ev))
}
