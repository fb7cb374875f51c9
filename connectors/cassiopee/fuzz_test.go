package cassiopee

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"passerelle/schemas"
)

// checkAnswer holds Decode's answer to any body to its promises: a refusal has at
// least one well-formed Problem, each naming a place of the body when the body is JSON;
// an acceptance maps to messages the canonical schemas accept, one per prévenu.
func checkAnswer(t testing.TB, reg *schemas.Registry, body []byte) (accepted bool) {
	t.Helper()
	d, problems, err := Decode(body)
	if err == nil {
		require.Empty(t, problems)
		require.NotNil(t, d)
		msgs, err := ToJudgments(d, fixedNow)
		require.NoError(t, err, "an accepted decision must map")
		require.Len(t, msgs, len(d.Prevenus))
		requireCanonical(t, reg, msgs)
		return true
	}
	require.ErrorIs(t, err, ErrRefused)
	require.Nil(t, d)
	require.NotEmpty(t, problems, "a refusal says why")
	doc, jerr := limits.Decode(body)
	for _, p := range problems {
		require.NotEmpty(t, p.Rule)
		require.NotEmpty(t, p.Detail)
		require.True(t, p.Pointer == "" || strings.HasPrefix(p.Pointer, "/"), "pointer %q", p.Pointer)
		require.NotContains(t, err.Error(), p.Detail)
		if jerr == nil {
			// The pointer names a value of the body, or a missing field of an object
			// that is there.
			_, here := lookup(doc, p.Pointer)
			parent, parentHere := lookup(doc, parentOf(p.Pointer))
			_, isObject := parent.(map[string]any)
			require.True(t, here || (parentHere && isObject), "pointer %q names nothing in the body", p.Pointer)
		}
	}
	return false
}

// parentOf returns the pointer of the value holding ptr's.
func parentOf(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i > 0 {
		return ptr[:i]
	}
	return ""
}

func FuzzDecode(f *testing.F) {
	ferme := exampleBody(f, exampleFerme)
	probation := exampleBody(f, exampleProbation)
	f.Add(ferme)
	f.Add(probation)
	f.Add([]byte(`{"versionFormat":"3","x":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`))
	f.Add([]byte(strings.Repeat(`{"a":`, 100000)))
	f.Add([]byte(`{"versionFormat":"3","versionFormat":"3"}`))
	f.Add(bytes.Replace(probation, []byte(`"nom": "MARTIN"`), []byte(`"nom": "MARTIN", "nom": "DURAND"`), 1))
	f.Add(bytes.Replace(ferme, []byte(`05/02/2024`), []byte(`31/02/2024`), 1))
	f.Add(bytes.Replace(probation, []byte(`02/11/1991`), []byte(`29/02/1991`), 1))
	f.Add(bytes.Replace(ferme, []byte(`"2A6M"`), []byte(`"0A0M0J"`), 1))
	f.Add(bytes.Replace(ferme, []byte(`"500,00"`), []byte(`"-500,00"`), 1))
	f.Add(bytes.Replace(ferme, []byte(`"500,00"`), []byte(`-500`), 1))
	f.Add(bytes.Replace(ferme, []byte(`"numeroTransmission": 2`), []byte(`"numeroTransmission": 1e400`), 1))
	f.Add(bytes.Replace(ferme, []byte(`"numeroTransmission": 2`), []byte(`"numeroTransmission": 9007199254740993`), 1))
	f.Add(bytes.Replace(probation, []byte(`"MARTIN"`), []byte("\"MAR\xc3\x28TIN\""), 1))
	f.Add(bytes.Replace(probation, []byte(`"8M"`), []byte(`"99999999999999999999M"`), 1))
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	reg, err := schemas.Load()
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, reg, body)
	})
}

// hostileValues are what a mutation puts in place of a value.
var hostileValues = []any{
	"", " ", "31/02/2024", "29/02/2023", "00/00/0000", "5/2/2024", "2024-02-05", "0A0M0J", "0J", "2Y", "6M2A",
	"99999A", "1500.00", "-500,00", "500,0", "900719925474099,99", "EMP", "JOURS_AMENDE", "TIG", "FRA", "3",
	"\u0000", "\u202e", "é", strings.Repeat("x", 5000), "/prevenus/0", "~1",
	json.Number("0"), json.Number("-1"), json.Number("1"), json.Number("401"), json.Number("2.5"), json.Number("2.0"),
	json.Number("1e400"), json.Number("9007199254740992"), json.Number("-0"),
	true, false, nil, []any{}, []any{"SOINS"}, []any{nil}, map[string]any{}, map[string]any{"code": "EMP"},
}

// places lists the pointers of every value under v (the root excluded).
func places(v any, at string, into *[]string) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same seed gives the same bodies
		for _, k := range keys {
			p := at + "/" + escapeToken(k)
			*into = append(*into, p)
			places(t[k], p, into)
		}
	case []any:
		for i, e := range t {
			p := at + "/" + strconv.Itoa(i)
			*into = append(*into, p)
			places(e, p, into)
		}
	}
}

// mutate changes one value of doc at random.
func mutate(t testing.TB, r *rand.Rand, doc map[string]any) {
	t.Helper()
	var ptrs []string
	places(doc, "", &ptrs)
	ptr := ptrs[r.IntN(len(ptrs))]
	parent, _ := lookup(doc, parentOf(ptr))
	cur, _ := lookup(doc, ptr)
	switch op := r.IntN(10); {
	case op < 4:
		set(t, doc, ptr, hostileValues[r.IntN(len(hostileValues))])
	case op < 5:
		if _, ok := parent.(map[string]any); ok {
			set(t, doc, ptr, deleteMarker)
		}
	case op < 6:
		if a, ok := parent.([]any); ok && len(a) > 0 {
			set(t, doc, parentOf(ptr), append(a, a[r.IntN(len(a))]))
		}
	case op < 7:
		if m, ok := cur.(map[string]any); ok {
			m["inconnu"+strconv.Itoa(r.IntN(3))] = hostileValues[r.IntN(len(hostileValues))]
		}
	default:
		if s, ok := cur.(string); ok && s != "" {
			b := []byte(s)
			i := r.IntN(len(b))
			switch r.IntN(3) {
			case 0:
				b[i] = "0123456789AMJ/,-x"[r.IntN(17)]
			case 1:
				b = append(b[:i:i], append([]byte{"0123456789AMJ/,"[r.IntN(15)]}, b[i:]...)...)
			default:
				b = b[:i]
			}
			set(t, doc, ptr, string(b))
		}
	}
}

// mutateBytes damages a body as a faulty workstation or a hostile sender would.
func mutateBytes(r *rand.Rand, body []byte) []byte {
	b := bytes.Clone(body)
	switch r.IntN(4) {
	case 0: // truncate
		return b[:r.IntN(len(b))]
	case 1: // flip a byte
		b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		return b
	case 2: // repeat a key
		i := bytes.Index(b, []byte(`"decision"`))
		return append(b[:i:i], append([]byte(`"decision":{},`), b[i:]...)...)
	default: // nest deeply
		return append([]byte(`{"x":`+strings.Repeat("[", MaxDepth+r.IntN(100))), b...)
	}
}

func TestTenThousandHostileBodiesAreAnsweredWithPointersOrAccepted(t *testing.T) {
	reg := registry(t)
	r := rand.New(rand.NewPCG(2024, 3))
	bodies := [][]byte{exampleBody(t, examples[0]), exampleBody(t, examples[1])}
	accepted, refused := 0, 0
	for i := range 10000 {
		original := bodies[i%len(bodies)]
		var body []byte
		if i%10 == 9 {
			body = mutateBytes(r, original)
		} else {
			v, err := limits.Decode(original)
			require.NoError(t, err)
			doc := v.(map[string]any)
			for range 1 + r.IntN(3) {
				mutate(t, r, doc)
			}
			body = encode(t, doc)
		}
		if checkAnswer(t, reg, body) {
			accepted++
			continue
		}
		refused++
		if i%10 != 9 {
			// A body that is JSON is answered with the fields at fault, never the root.
			_, problems, _ := Decode(body)
			for _, p := range problems {
				require.NotEmpty(t, p.Pointer, "body %d: %s", i, p.Rule)
			}
		}
	}
	t.Logf("accepted %d, refused %d", accepted, refused)
	require.Greater(t, accepted, 100, "the mutations must not all be refused")
	require.Greater(t, refused, 5000, "the mutations must be hostile")
}
