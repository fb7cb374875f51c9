package compat

import (
	"fmt"
	"sort"
)

// Kind names one kind of breaking change.
type Kind string

// The kinds of breaking change the check reports.
const (
	// KindIdentityChanged: the schema's $id or $schema (its dialect) changed.
	KindIdentityChanged Kind = "identity-changed"
	// KindDefinitionRemoved: an entry of the root $defs is gone, and a $ref to it breaks.
	KindDefinitionRemoved Kind = "definition-removed"
	// KindRejectsAll: a schema became false, or a value that accepted documents now accepts none.
	KindRejectsAll Kind = "rejects-all"
	// KindRequiredAdded: a property became required.
	KindRequiredAdded Kind = "required-added"
	// KindObjectClosed: an open object became closed (additionalProperties or
	// unevaluatedProperties false added).
	KindObjectClosed Kind = "object-closed"
	// KindPropertyRemoved: a property a closed object accepted is no longer accepted.
	KindPropertyRemoved Kind = "property-removed"
	// KindEnumNarrowed: an enum or const lost values, or was added.
	KindEnumNarrowed Kind = "enum-narrowed"
	// KindTypeNarrowed: a type is no longer accepted, or a type constraint was added.
	KindTypeNarrowed Kind = "type-narrowed"
	// KindPatternChanged: a pattern was added or changed.
	KindPatternChanged Kind = "pattern-changed"
	// KindFormatChanged: a format was added or changed.
	KindFormatChanged Kind = "format-changed"
	// KindLowerBoundRaised: minimum, exclusiveMinimum, minLength, minItems,
	// minProperties or minContains was raised or added.
	KindLowerBoundRaised Kind = "lower-bound-raised"
	// KindUpperBoundLowered: maximum, exclusiveMaximum, maxLength, maxItems,
	// maxProperties or maxContains was lowered or added.
	KindUpperBoundLowered Kind = "upper-bound-lowered"
	// KindMultipleOfChanged: a multipleOf was added or changed to a value that the old
	// one is not a multiple of.
	KindMultipleOfChanged Kind = "multiple-of-changed"
	// KindUniqueItemsAdded: uniqueItems true was added.
	KindUniqueItemsAdded Kind = "unique-items-added"
	// KindConditionalChanged: an if/then/else was added, or its condition changed.
	KindConditionalChanged Kind = "conditional-changed"
	// KindNotChanged: a not was added, or now excludes more.
	KindNotChanged Kind = "not-changed"
	// KindCompositionChanged: an anyOf or oneOf was added, lost a branch, or (oneOf)
	// changed a branch.
	KindCompositionChanged Kind = "composition-changed"
	// KindKeywordChanged: another keyword (one the check does not reason about, or a
	// malformed value) was added, removed or changed: counted as breaking.
	KindKeywordChanged Kind = "keyword-changed"
	// KindUnresolvedRef: a $ref cannot be followed, so what it accepts is unknown.
	KindUnresolvedRef Kind = "unresolved-ref"
	// KindInvalidSchema: a subschema is neither an object nor a boolean.
	KindInvalidSchema Kind = "invalid-schema"
	// KindTooComplex: the schemas are too large or too entangled to compare within
	// the step budget; the rest was not compared.
	KindTooComplex Kind = "too-complex"
)

// Breaking is one change of the new version that could reject a document the old
// version accepted.
type Breaking struct {
	// Kind is what changed.
	Kind Kind
	// Schema is the $id of the document Pointer points into: the new version's,
	// except for a $ref of the old version that cannot be followed.
	Schema string
	// Pointer is the JSON pointer of the keyword (or of the schema object) concerned.
	Pointer string
	// Instance is where the change applies in a document, as a JSON pointer ("" is the
	// whole document, "*" any array item or any property not named). A change found by
	// comparing a root definition on its own starts with the definition
	// ("$defs/Person/sex").
	Instance string
	// Message is one sentence that says what changed and what it refuses now.
	Message string
}

// String gives the breaking change on one line: place, kind and sentence.
func (b Breaking) String() string {
	inst := b.Instance
	if inst == "" {
		inst = "(document)"
	}
	return fmt.Sprintf("%s#%s [%s] at %s: %s", b.Schema, b.Pointer, b.Kind, inst, b.Message)
}

// Option adjusts Check.
type Option func(*options)

type options struct {
	oldRefs, newRefs [][]byte
	maxSteps         int
}

// defaultMaxSteps bounds the pairs of subschemas compared: the canonical schemas need
// a few hundred.
const defaultMaxSteps = 100_000

// WithReferences gives the schema documents that the $refs of each version may point
// to, each known by its $id (the companions of the old version, and of the new one).
// A document with the same $id as the schema being checked is skipped, so a whole
// folder may be passed.
func WithReferences(old, new [][]byte) Option {
	return func(o *options) {
		o.oldRefs = append(o.oldRefs, old...)
		o.newRefs = append(o.newRefs, new...)
	}
}

// withMaxSteps changes the step budget (tests).
func withMaxSteps(n int) Option {
	return func(o *options) { o.maxSteps = n }
}

// fallbackID names a document that has no $id.
const fallbackID = "urn:passerelle:compat:schema"

// Check compares two versions of a JSON Schema (draft 2020-12) and returns every
// change of the new version that could reject a document the old one accepted, in a
// stable order; none means the new version accepts at least what the old one did, as
// far as the check can tell. It walks both versions in step, following local and
// cross-file $refs (see WithReferences) and allOf, and compares the root $defs by name
// as well. It is conservative: a keyword it does not reason about that was added,
// removed or changed counts as breaking, and so does a $ref it cannot follow.
//
// A new property in an open object is taken as additive, not breaking, although a
// document could already have carried that name with another value: the canonical
// objects that are open (the envelope's attributes) are closed by the type schemas.
//
// The error is for input that is not a schema at all (ErrNotJSON, ErrNotSchema,
// ErrDuplicateID).
func Check(old, new []byte, opts ...Option) ([]Breaking, error) {
	o := options{maxSteps: defaultMaxSteps}
	for _, f := range opts {
		f(&o)
	}
	oldReg, oldDoc, err := load("old", old, o.oldRefs)
	if err != nil {
		return nil, err
	}
	newReg, newDoc, err := load("new", new, o.newRefs)
	if err != nil {
		return nil, err
	}
	w := newWalker(o.maxSteps)
	oldRoot, newRoot := oldReg.rootNode(oldDoc), newReg.rootNode(newDoc)

	if oldDoc.id != newDoc.id {
		w.report(KindIdentityChanged, newRoot.child(newDoc.id, "$id"), "",
			fmt.Sprintf("$id changed from %q to %q: references to the old $id no longer resolve", oldDoc.id, newDoc.id))
	}
	oldObj, _ := oldDoc.root.(map[string]any)
	newObj, _ := newDoc.root.(map[string]any)
	if was, is := canon(oldObj["$schema"]), canon(newObj["$schema"]); was != is {
		w.report(KindIdentityChanged, newRoot.child(newObj["$schema"], "$schema"), "",
			fmt.Sprintf("$schema changed from %s to %s: another dialect validates differently", was, is))
	}

	w.compare([]node{oldRoot}, []node{newRoot}, "")

	oldDefs, _ := oldObj["$defs"].(map[string]any)
	newDefs, _ := newObj["$defs"].(map[string]any)
	for _, name := range sortedKeys(oldDefs) {
		nd, ok := newDefs[name]
		if !ok {
			w.report(KindDefinitionRemoved, newRoot.child(newObj["$defs"], "$defs"), "$defs/"+escapeToken(name),
				fmt.Sprintf("definition %q was removed: a $ref to it no longer resolves", name))
			continue
		}
		w.compare([]node{oldRoot.child(oldDefs[name], "$defs", name)}, []node{newRoot.child(nd, "$defs", name)}, "$defs/"+escapeToken(name))
	}
	return w.out, nil
}

// load parses a schema and its references into a registry.
func load(label string, schema []byte, refs [][]byte) (*registry, *document, error) {
	reg := newRegistry(label)
	doc, err := parseDocument(schema, fallbackID)
	if err != nil {
		return nil, nil, fmt.Errorf("%s version: %w", label, err)
	}
	if err := reg.add(doc); err != nil {
		return nil, nil, err
	}
	for i, b := range refs {
		d, err := parseDocument(b, fmt.Sprintf("urn:passerelle:compat:reference:%d", i))
		if err != nil {
			return nil, nil, fmt.Errorf("%s version, reference %d: %w", label, i, err)
		}
		if d.id == doc.id {
			continue
		}
		if err := reg.add(d); err != nil {
			return nil, nil, err
		}
	}
	return reg, doc, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
