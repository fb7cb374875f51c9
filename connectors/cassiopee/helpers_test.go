package cassiopee

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// The contract's two examples, copied from contracts/cassiopee/examples.
const (
	exampleFerme     = "ferme-mandat-depot"
	exampleProbation = "sursis-probatoire"
)

// examples lists the contract examples by name.
var examples = []string{exampleFerme, exampleProbation}

// fixedNow is the reception time the tests give ToJudgments.
var fixedNow = time.Date(2024, 3, 25, 9, 47, 12, 0, time.FixedZone("CET", 3600))

// exampleBody returns a contract example as sent.
func exampleBody(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "contract", name+".json"))
	require.NoError(t, err)
	return b
}

// exampleDoc returns a contract example decoded into a generic tree, to mutate.
func exampleDoc(t testing.TB, name string) map[string]any {
	t.Helper()
	v, err := jsonstrict.Decode(exampleBody(t, name))
	require.NoError(t, err)
	m, ok := v.(map[string]any)
	require.True(t, ok)
	return m
}

// encode marshals a tree back to a body.
func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// mustDecode decodes a body Decode must accept.
func mustDecode(t testing.TB, body []byte) *Decision {
	t.Helper()
	d, problems, err := Decode(body)
	require.NoError(t, err, "problems: %v", problems)
	require.Empty(t, problems)
	require.NotNil(t, d)
	return d
}

// splitPointer returns the unescaped tokens of a JSON pointer.
func splitPointer(ptr string) []string {
	if ptr == "" {
		return nil
	}
	toks := strings.Split(ptr[1:], "/")
	for i, tok := range toks {
		toks[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
	}
	return toks
}

// lookup returns the value at ptr in a tree.
func lookup(doc any, ptr string) (any, bool) {
	cur := doc
	for _, tok := range splitPointer(ptr) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// set puts v at ptr in a tree (the parent must exist); v == deleteMarker removes the key.
func set(t testing.TB, doc any, ptr string, v any) {
	t.Helper()
	toks := splitPointer(ptr)
	require.NotEmpty(t, toks)
	parentPtr := ""
	for _, tok := range toks[:len(toks)-1] {
		parentPtr += "/" + escapeToken(tok)
	}
	parent, ok := lookup(doc, parentPtr)
	require.True(t, ok, "no parent at %s", parentPtr)
	last := toks[len(toks)-1]
	switch p := parent.(type) {
	case map[string]any:
		if v == deleteMarker {
			delete(p, last)
		} else {
			p[last] = v
		}
	case []any:
		i, err := strconv.Atoi(last)
		require.NoError(t, err)
		require.Less(t, i, len(p))
		p[i] = v
	default:
		t.Fatalf("parent of %s is a %T", ptr, parent)
	}
}

// deleteMarker asks set to remove a key.
var deleteMarker = &struct{ delete bool }{true}

// registry returns the canonical schemas.
func registry(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load()
	require.NoError(t, err)
	return reg
}

// placeholderSubject stands for the canonical person id the pipeline resolves.
const placeholderSubject = "00000000-0000-4000-8000-000000000001"

// envelopeDoc is the structured CloudEvent of m as the pipeline validates it
// (pipeline/ingest.go), with the subject the pipeline would have resolved.
func envelopeDoc(t testing.TB, m *canonical.Message) map[string]any {
	t.Helper()
	data, err := jsonstrict.Decode(m.Data)
	require.NoError(t, err)
	doc := map[string]any{
		"specversion": m.SpecVersion, "id": m.ID, "source": m.Source, "type": m.Type,
		"time": m.Time.UTC().Format(time.RFC3339Nano), "subject": placeholderSubject,
		"dataschema": m.DataSchema, "factsystem": m.FactSystem, "factref": m.FactRef,
		"factversion": json.Number(fmt.Sprint(m.FactVersion)), "data": data,
	}
	if m.DataContentType != "" {
		doc["datacontenttype"] = m.DataContentType
	}
	return doc
}

// requireCanonical checks every message against the canonical schemas.
func requireCanonical(t testing.TB, reg *schemas.Registry, msgs []*canonical.Message) {
	t.Helper()
	for i, m := range msgs {
		require.NoError(t, reg.Validate(envelopeDoc(t, m)), "message %d", i)
	}
}

// judgmentOf decodes the judgment a message carries.
func judgmentOf(t testing.TB, m *canonical.Message) *canonical.Judgment {
	t.Helper()
	var j canonical.Judgment
	require.NoError(t, m.DecodeData(&j))
	return &j
}

// pointersAndRules lists "pointer rule" of each problem, for comparisons.
func pointersAndRules(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Pointer + " " + string(p.Rule)
	}
	return out
}
