package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"passerelle/config"
	"passerelle/schemas"
)

// The property: whatever a canonical message holds (every field of its schema present
// or absent at random, arrays of any length, nested objects, fields the schema does not
// know yet, values of the wrong JSON type), and whatever allow-list a route gives a
// recipient, nothing outside that allow-list survives the policy, and nothing the
// contracts forbid that recipient ever does.
//
// The allow-lists tried are the largest one each recipient kind can have (every leaf of
// the schema that Compile accepts for it), random subsets of it, and the lists of the
// routes of config/examples. Any route's list is such a subset, since Compile refuses
// the rest, so the property covers every configuration.
//
// The forbidden fields are checked by contractOracle, written from contracts/README.md
// ("Data that must not travel") and DOMAIN.md ("Data protection") and independent of
// hardRules: the mutation test removes each hard rule in turn and shows that the
// property then fails.

// messagesPerType is how many random messages of each canonical type the property
// tries (the issue asks for at least 100,000).
const messagesPerType = 100_000

// subsetsPerKind is how many random allow-lists of each type and recipient kind are
// tried, besides the largest one.
const subsetsPerKind = 24

// contractOracle reports what the contracts forbid in out, a message of type typ after
// the policy of a recipient of kind: field names anywhere in the tree, so that the same
// field reached by another path (a person nested elsewhere) is caught too.
func contractOracle(typ, kind string, out map[string]any) []string {
	var bad []string
	walkFields(out, func(name string) {
		switch {
		case name == "address" && kind != Probation:
			bad = append(bad, "a postal address reached a "+kind+" recipient")
		case name == "obligationDetails" && kind != Probation:
			bad = append(bad, "the court's precision of obligations reached a "+kind+" recipient")
		case name == "nextAppointment" && kind != Probation && kind != Enforcement:
			bad = append(bad, "an SPIP appointment reached a "+kind+" recipient")
		case typ == "fr.justice.measure.v1" && name == "observations":
			bad = append(bad, "the JAP office's observations reached a "+kind+" recipient")
		case strings.Contains(name, "notes") || strings.Contains(name, "Notes"):
			bad = append(bad, "SPIP interview notes reached a "+kind+" recipient")
		}
	})
	if typ == "fr.justice.report.v1" && kind != Probation && kind != Enforcement && len(out) > 0 {
		bad = append(bad, "an SPIP report reached a "+kind+" recipient")
	}
	return bad
}

func walkFields(v any, fn func(name string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			fn(k)
			walkFields(c, fn)
		}
	case []any:
		for _, c := range t {
			walkFields(c, fn)
		}
	}
}

// allowTrie is an allow-list read back by the test on its own (not the policy's
// compiled tree), to check what a policy let through.
type allowTrie struct {
	children map[string]*allowTrie
	leaf     bool // a scalar or an array of scalars
	array    bool // an array of objects, its elements checked by children
}

func newAllowTrie(paths []string) *allowTrie {
	root := &allowTrie{}
	for _, p := range paths {
		n := root
		for _, seg := range strings.Split(p, ".") {
			name, arr := strings.CutSuffix(seg, "[]")
			if n.children == nil {
				n.children = map[string]*allowTrie{}
			}
			c := n.children[name]
			if c == nil {
				c = &allowTrie{}
				n.children[name] = c
			}
			c.array = c.array || arr
			n = c
		}
		n.leaf = true
	}
	return root
}

// outsideAllowList returns the fields of out (as paths) that the allow-list does not
// name, or that hold something else than the list says (an object where it names a
// leaf).
func outsideAllowList(out map[string]any, t *allowTrie) []string {
	var bad []string
	var check func(prefix string, obj map[string]any, t *allowTrie)
	check = func(prefix string, obj map[string]any, t *allowTrie) {
		for k, v := range obj {
			c := t.children[k]
			switch {
			case c == nil:
				bad = append(bad, prefix+k)
			case c.leaf:
				if holdsObject(v) {
					bad = append(bad, prefix+k+" (an object under a leaf)")
				}
			case c.array:
				arr, ok := v.([]any)
				if !ok {
					bad = append(bad, prefix+k+" (not an array)")
					continue
				}
				for _, e := range arr {
					m, ok := e.(map[string]any)
					if !ok {
						bad = append(bad, prefix+k+"[] (not an object)")
						continue
					}
					check(prefix+k+"[].", m, c)
				}
			default:
				m, ok := v.(map[string]any)
				if !ok {
					bad = append(bad, prefix+k+" (not an object)")
					continue
				}
				check(prefix+k+".", m, c)
			}
		}
	}
	check("", out, t)
	return bad
}

func holdsObject(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return true
	case []any:
		for _, e := range t {
			if holdsObject(e) {
				return true
			}
		}
	}
	return false
}

// typeSchema is what the generator and the allow-lists need of one canonical type.
type typeSchema struct {
	typ    string
	w      *walker
	data   *genNode // the schema of the message's data, for the generator
	leaves []string // every leaf path of the data, in allow-list notation
}

func loadTypes(t testing.TB) []*typeSchema {
	t.Helper()
	reg, err := schemas.Load()
	require.NoError(t, err)
	var out []*typeSchema
	for _, ti := range reg.Types() {
		w := &walker{src: reg.Schema, docs: map[string]map[string]any{}}
		root, err := w.doc(ti.ID)
		require.NoError(t, err)
		data, ok := w.property(ti.ID, root, "data")
		require.True(t, ok, "schema %s has data", ti.ID)
		ts := &typeSchema{typ: ti.Type, w: w, data: compileGen(w, data.doc, data.node, 0)}
		ts.leaves = leafPaths(w, data.doc, data.node, "", 0)
		sort.Strings(ts.leaves)
		require.Empty(t, CheckPaths(reg.Schema, ti.ID, ts.leaves), "the leaves found are the ones CheckPaths accepts")
		out = append(out, ts)
	}
	require.Len(t, out, 6, "the six canonical types")
	return out
}

// properties gathers the properties of an object schema, through $ref and allOf.
func properties(w *walker, doc string, n map[string]any) (map[string]located, map[string]bool) {
	doc, n = w.resolve(doc, n)
	props := map[string]located{}
	required := map[string]bool{}
	if ps, ok := n["properties"].(map[string]any); ok {
		for k, v := range ps {
			if m, ok := v.(map[string]any); ok {
				props[k] = located{doc: doc, node: m}
			}
		}
	}
	if rs, ok := n["required"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	if all, ok := n["allOf"].([]any); ok {
		for _, a := range all {
			if m, ok := a.(map[string]any); ok {
				p, r := properties(w, doc, m)
				for k, v := range p {
					props[k] = v
				}
				for k := range r {
					required[k] = true
				}
			}
		}
	}
	return props, required
}

func leafPaths(w *walker, doc string, n map[string]any, prefix string, depth int) []string {
	if depth > 8 {
		return nil
	}
	props, _ := properties(w, doc, n)
	var out []string
	for name, p := range props {
		pdoc, pn := w.resolve(p.doc, p.node)
		path := prefix + name
		switch {
		case typeOf(pn) == "array":
			items, _ := pn["items"].(map[string]any)
			idoc, in := w.resolve(pdoc, items)
			if w.isObject(idoc, in) {
				out = append(out, leafPaths(w, idoc, in, path+"[].", depth+1)...)
			} else {
				out = append(out, path)
			}
		case w.isObject(pdoc, pn):
			out = append(out, leafPaths(w, pdoc, pn, path+".", depth+1)...)
		default:
			out = append(out, path)
		}
	}
	return out
}

// genNode is a schema node compiled for the generator, so that generating does not
// resolve references again for every value.
type genNode struct {
	kind  string // object, array, string, number, boolean, enum, const
	props []genProp
	items *genNode
	enum  []any
}

type genProp struct {
	name     string
	required bool
	node     *genNode
}

func compileGen(w *walker, doc string, n map[string]any, depth int) *genNode {
	doc, n = w.resolve(doc, n)
	if c, ok := n["const"]; ok {
		return &genNode{kind: "enum", enum: []any{c}}
	}
	if e, ok := n["enum"].([]any); ok && len(e) > 0 {
		return &genNode{kind: "enum", enum: e}
	}
	switch {
	case typeOf(n) == "array":
		items, _ := n["items"].(map[string]any)
		return &genNode{kind: "array", items: compileGen(w, doc, items, depth+1)}
	case w.isObject(doc, n):
		g := &genNode{kind: "object"}
		if depth > 10 {
			return g
		}
		props, required := properties(w, doc, n)
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names) // a seed gives the same messages on every run
		for _, k := range names {
			g.props = append(g.props, genProp{name: k, required: required[k], node: compileGen(w, props[k].doc, props[k].node, depth+1)})
		}
		return g
	case typeOf(n) == "integer", typeOf(n) == "number":
		return &genNode{kind: "number"}
	case typeOf(n) == "boolean":
		return &genNode{kind: "boolean"}
	default:
		return &genNode{kind: "string"}
	}
}

// generator makes random messages from a compiled schema.
type generator struct {
	r *rand.Rand
}

// canaries are the generated strings: what they say does not matter to the policy.
var canaries = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = fmt.Sprintf("CANARY-%d", i)
	}
	return out
}()

// unknownNames are fields no schema has yet, some of them named like what must not
// travel: a policy must drop them all, since no allow-list can name them.
var unknownNames = []string{"futureField", "notesEntretien", "prochainRendezVous", "adresse", "commentaire"}

func (g *generator) value(n *genNode, depth int) any {
	if g.r.IntN(40) == 0 {
		return g.wrongType(depth) // whatever the schema says, a source may send something else
	}
	switch n.kind {
	case "enum":
		return n.enum[g.r.IntN(len(n.enum))]
	case "array":
		out := make([]any, g.r.IntN(3))
		for i := range out {
			out[i] = g.value(n.items, depth+1)
		}
		return out
	case "object":
		return g.object(n, depth+1)
	case "number":
		return float64(g.r.IntN(1000))
	case "boolean":
		return g.r.IntN(2) == 0
	default:
		return canaries[g.r.IntN(len(canaries))]
	}
}

func (g *generator) object(n *genNode, depth int) map[string]any {
	out := make(map[string]any, len(n.props))
	for _, p := range n.props {
		present := g.r.IntN(2) == 0 // optional fields: one time in two
		if p.required {
			present = g.r.IntN(10) != 0 // required ones mostly, not always: sources err
		}
		if present && depth < 10 {
			out[p.name] = g.value(p.node, depth)
		}
	}
	if g.r.IntN(8) == 0 {
		out[unknownNames[g.r.IntN(len(unknownNames))]] = g.wrongType(depth)
	}
	return out
}

// wrongType is a value of any JSON type, objects and arrays included.
func (g *generator) wrongType(depth int) any {
	switch k := g.r.IntN(5); {
	case k == 0 && depth < 10:
		return map[string]any{"address": "CANARY-ADDRESS", "nested": map[string]any{"x": 1.0}}
	case k == 1 && depth < 10:
		return []any{"a", map[string]any{"obligationDetails": "CANARY"}}
	case k == 2:
		return []any{"a", "b"}
	case k == 3:
		return nil
	default:
		return "CANARY-WRONG"
	}
}

// allowList is one compiled allow-list to try.
type allowList struct {
	policy  *Policy
	allowed *allowTrie
}

// allowLists returns the largest allow-list of ts for kind (every leaf Compile accepts)
// and random subsets of it.
func allowLists(t testing.TB, ts *typeSchema, kind string, r *rand.Rand) []allowList {
	t.Helper()
	var largest []string
	for _, p := range ts.leaves {
		if Denied(ts.typ, p, kind) == "" {
			largest = append(largest, p)
		}
	}
	lists := [][]string{largest}
	for range subsetsPerKind {
		var sub []string
		for _, p := range largest {
			if r.IntN(3) != 0 {
				sub = append(sub, p)
			}
		}
		lists = append(lists, sub)
	}
	out := make([]allowList, 0, len(lists))
	for _, l := range lists {
		p, err := Compile(ts.typ, kind, l)
		require.NoError(t, err, "every path Denied accepts compiles")
		out = append(out, allowList{policy: p, allowed: newAllowTrie(l)})
	}
	return out
}

// violation is one failure of the property, with the message that shows it.
type violation struct {
	typ, kind string
	problem   string
}

// checkProperty generates n messages of each type and applies to each one of the
// allow-lists of every recipient kind (everyKind), or of one kind in turn (each kind
// then sees n/5 messages of each type: the policy of one kind does not depend on the
// others, and a message costs a fifth); it returns the violations found (at most a few
// per type and kind) and how many messages were tried.
func checkProperty(t testing.TB, types []*typeSchema, n int, seed uint64, everyKind bool, routes ...routeList) ([]violation, int) {
	t.Helper()
	var mu sync.Mutex
	var found []violation
	var wg sync.WaitGroup
	tried := 0
	for ti, ts := range types {
		r := rand.New(rand.NewPCG(seed, uint64(ti)))
		lists := map[string][]allowList{}
		for _, kind := range RecipientKinds {
			lists[kind] = allowLists(t, ts, kind, r)
		}
		for _, rl := range routes {
			if rl.typ == ts.typ {
				p, err := Compile(rl.typ, rl.kind, rl.paths)
				require.NoError(t, err, "route %s compiles", rl.route)
				lists[rl.kind] = append(lists[rl.kind], allowList{policy: p, allowed: newAllowTrie(rl.paths)})
			}
		}
		tried += n
		wg.Go(func() {
			g := &generator{r: rand.New(rand.NewPCG(seed+1, uint64(ti)))}
			perKind := map[string]int{}
			var local []violation
			for i := range n {
				data := g.object(ts.data, 0)
				kinds := RecipientKinds
				if !everyKind {
					k := i % len(RecipientKinds)
					kinds = RecipientKinds[k : k+1]
				}
				for _, kind := range kinds {
					if perKind[kind] >= 3 {
						continue
					}
					al := lists[kind][g.r.IntN(len(lists[kind]))]
					out := filterObject(data, al.policy.root)
					if i%10 == 0 {
						// The byte path the deliverer takes gives the same result.
						raw, err := json.Marshal(data)
						if err != nil {
							panic(err)
						}
						viaBytes, err := al.policy.Apply(raw)
						if err != nil {
							panic(err)
						}
						var decoded, direct map[string]any
						_ = json.Unmarshal(viaBytes, &decoded)
						b, _ := json.Marshal(out)
						_ = json.Unmarshal(b, &direct)
						if !reflect.DeepEqual(decoded, direct) {
							local = append(local, violation{ts.typ, kind, "Apply differs from the filter: " + string(viaBytes)})
						}
					}
					problems := contractOracle(ts.typ, kind, out)
					for _, p := range outsideAllowList(out, al.allowed) {
						problems = append(problems, p+" is outside the allow-list")
					}
					if len(problems) > 0 {
						perKind[kind]++
						b, _ := json.Marshal(out)
						local = append(local, violation{ts.typ, kind, strings.Join(problems, "; ") + " in " + string(b)})
					}
				}
			}
			mu.Lock()
			found = append(found, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return found, tried
}

// routeList is the allow-list of a route of an example configuration.
type routeList struct {
	route, typ, kind string
	paths            []string
}

// exampleRecipients are the recipient kinds of the built-in sink connectors, by kind
// (each connector package declares its own; the policy package cannot import them).
var exampleRecipients = map[string]string{"prisme": Probation, "appi": Enforcement, "cassiopee": Prosecution, "genesis": Prison}

// exampleRoutes reads the allow-lists of the routes of config/examples.
func exampleRoutes(t *testing.T) []routeList {
	t.Helper()
	reg, err := schemas.Load()
	require.NoError(t, err)
	files, err := filepath.Glob("../../config/examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []routeList
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var probe struct {
			Routes []any `yaml:"routes"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &probe), f)
		if len(probe.Routes) == 0 {
			continue // not a configuration (the policies file itself)
		}
		// Loaded as the hub loads it: the routes get their fields from the policies file.
		c, err := config.ReadIn(bytes.NewReader(raw), func(k string) string {
			if k == "DATABASE_URL" {
				return "postgres://test@127.0.0.1/test"
			}
			return ""
		}, filepath.Dir(f))
		require.NoError(t, err, f)
		for _, r := range c.Routes {
			kind := c.Connectors[r.Destination].Kind
			recipient, ok := exampleRecipients[kind]
			if !ok {
				recipient = Other
			}
			if r, ok := c.Connectors[r.Destination].Settings["recipient"].(string); ok && r != "" {
				recipient = r
			}
			for typ, paths := range r.Allow {
				ti, ok := reg.Lookup(typ)
				require.True(t, ok, "%s: route %s: type %s", f, r.Name, typ)
				out = append(out, routeList{route: r.Name, typ: ti.Type, kind: recipient, paths: paths})
			}
		}
	}
	return out
}

func TestPolicyProperty(t *testing.T) {
	// The messages are short-lived garbage: collecting less often saves a fifth of the
	// test's time.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	types := loadTypes(t)
	routes := exampleRoutes(t)
	require.NotEmpty(t, routes)
	found, tried := checkProperty(t, types, messagesPerType, 20261201, false, routes...)
	for _, v := range found {
		t.Errorf("%s to a %s recipient: %s", v.typ, v.kind, v.problem)
	}
	t.Logf("%d random messages, each against an allow-list of one recipient kind in turn", tried)
}

// TestPolicyMutations removes each hard rule in turn and shows that the property then
// fails: no rule is dead weight, and the property sees what each one guards.
func TestPolicyMutations(t *testing.T) {
	types := loadTypes(t)
	saved := hardRules
	t.Cleanup(func() { hardRules = saved })
	for i, r := range saved {
		t.Run(fmt.Sprintf("without rule %d (%s %s) the property fails", i, r.typ, r.path), func(t *testing.T) {
			hardRules = slices.Delete(slices.Clone(saved), i, i+1)
			defer func() { hardRules = saved }()
			found, _ := checkProperty(t, types, 400, uint64(i), true)
			assert.NotEmpty(t, found, "removing the rule %q went unnoticed", r.why)
		})
	}
	t.Run("with every rule the same samples hold", func(t *testing.T) {
		for i := range saved {
			found, _ := checkProperty(t, types, 400, uint64(i), true)
			assert.Empty(t, found)
		}
	})
}

func TestLeafPaths(t *testing.T) {
	types := loadTypes(t)
	byType := map[string][]string{}
	for _, ts := range types {
		byType[ts.typ] = ts.leaves
	}
	assert.Contains(t, byType["fr.justice.judgment.v1"], "person.address")
	assert.Contains(t, byType["fr.justice.case-transfer.v1"], "nextAppointment")
	assert.Contains(t, byType["fr.justice.measure.v1"], "observations")
	assert.Contains(t, byType["fr.justice.penal-record.v1"], "convictions[].sentences[].obligationDetails")
}

// The tree filter: the policy's semantics on a decoded message, which Apply, walking the
// bytes, must match. The property test checks that it does.

func filterObject(obj map[string]any, n *node) map[string]any {
	out := make(map[string]any, min(len(obj), len(n.children)))
	for k, v := range obj {
		c, ok := n.children[k]
		if !ok {
			continue
		}
		if c.leaf {
			if !containsObject(v) {
				out[k] = v
			}
			continue
		}
		if kept := filterValue(v, c); kept != nil {
			out[k] = kept
		}
	}
	return out
}

// containsObject reports whether a leaf's value holds an object: a leaf path stands for
// a scalar or an array of scalars, never for a whole subtree (which could carry fields
// added later). It is holdsObject's twin on purpose: that one belongs to the oracle,
// which must not share a bug with the filter it checks.
func containsObject(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return true
	case []any:
		for _, e := range t {
			if containsObject(e) {
				return true
			}
		}
	}
	return false
}

func filterValue(v any, n *node) any {
	switch t := v.(type) {
	case map[string]any:
		if n.array {
			return nil
		}
		return filterObject(t, n)
	case []any:
		if !n.array {
			return nil
		}
		out := make([]any, 0, len(t))
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				out = append(out, filterObject(m, n))
			}
		}
		return out
	default:
		return nil
	}
}
