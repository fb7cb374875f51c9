package compat

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// walker compares two versions and collects what breaks.
type walker struct {
	out      []Breaking
	reported map[string]bool
	seen     map[string]bool
	steps    *int
	maxSteps int
	stopped  bool
}

func newWalker(maxSteps int) *walker {
	steps := 0
	return &walker{reported: map[string]bool{}, seen: map[string]bool{}, steps: &steps, maxSteps: maxSteps}
}

// sub is a walker for a side question (are two schemas equivalent?): same budget, own
// findings.
func (w *walker) sub() *walker {
	return &walker{reported: map[string]bool{}, seen: map[string]bool{}, steps: w.steps, maxSteps: w.maxSteps}
}

func (w *walker) report(k Kind, at node, inst, msg string) {
	key := string(k) + "\x00" + at.loc() + "\x00" + msg // at.loc() is Schema#Pointer
	if w.reported[key] {
		return
	}
	w.reported[key] = true
	w.out = append(w.out, Breaking{Kind: k, Schema: at.doc.id, Pointer: at.ptr, Instance: inst, Message: msg})
}

// equivalent says two lists of schemas accept the same documents, as far as the
// check can tell (each compatible with the other).
func (w *walker) equivalent(a, b []node) bool {
	s := w.sub()
	s.compare(a, b, "")
	w.keepUnknowns(s)
	if len(s.out) > 0 {
		return false
	}
	s = w.sub()
	s.compare(b, a, "")
	w.keepUnknowns(s)
	return len(s.out) == 0
}

// keepUnknowns copies from a side question what makes the whole answer unsure: a $ref
// that cannot be followed, a value that is not a schema, the budget running out.
func (w *walker) keepUnknowns(s *walker) {
	for _, b := range s.out {
		switch b.Kind {
		case KindUnresolvedRef, KindInvalidSchema, KindTooComplex:
			key := string(b.Kind) + "\x00" + b.Schema + "#" + b.Pointer + "\x00" + b.Message
			if !w.reported[key] {
				w.reported[key] = true
				w.out = append(w.out, b)
			}
		}
	}
	if s.stopped {
		w.stopped = true
	}
}

func locs(ns []node) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.loc()
	}
	return strings.Join(parts, ",")
}

func describe(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values, ", ")
}

// compare reports every change by which news (all must hold) could refuse a value
// that olds (all must hold) accepted, at the instance place inst.
func (w *walker) compare(olds, news []node, inst string) {
	if len(news) == 0 || w.stopped {
		return
	}
	key := locs(olds) + "=>" + locs(news)
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	*w.steps++
	if *w.steps > w.maxSteps {
		w.stopped = true
		w.report(KindTooComplex, news[0], inst, fmt.Sprintf("comparison stopped after %d steps; what follows was not compared", w.maxSteps))
		return
	}

	o, n := buildView(olds), buildView(news)
	where := news[0]
	if len(n.conj) > 0 {
		where = n.conj[0].node
	}
	for _, u := range o.unresolved {
		w.report(KindUnresolvedRef, olds[0], inst, "the old version has a $ref that cannot be followed, so what it accepted is unknown: "+u)
	}
	for _, u := range n.unresolved {
		w.report(KindUnresolvedRef, where, inst, "a $ref cannot be followed, so what it accepts is unknown: "+u)
	}
	for _, bad := range o.notSchema {
		w.report(KindInvalidSchema, where, inst, fmt.Sprintf("the old version has a value that is not a schema at %s", bad.loc()))
	}
	for _, bad := range n.notSchema {
		w.report(KindInvalidSchema, bad, inst, "this value is not a schema (neither an object nor a boolean)")
	}
	if o.acceptsNothing() {
		return // the old version accepted nothing here: nothing can break
	}
	if n.falseAt != nil {
		w.report(KindRejectsAll, *n.falseAt, inst, "the schema is now false: every value is refused")
		return
	}

	w.compareTypes(o, n, inst)
	w.compareEnum(o, n, inst)
	w.compareObject(o, n, inst)
	if len(n.items) > 0 {
		w.compare(o.items, n.items, inst+"/*")
	}
	w.compareBounds(o, n, inst)
	w.compareStrings(o, n, inst)
	w.compareConditions(o, n, inst)
	w.compareNots(o, n, inst)
	w.compareAlternatives(o, n, inst)
	w.compareOthers(o, n, where, inst)
}

func (w *walker) compareTypes(o, n *view, inst string) {
	if n.types == nil {
		return
	}
	oldTypes := o.acceptedTypes()
	if oldTypes == nil {
		w.report(KindTypeNarrowed, n.typeAt, inst,
			fmt.Sprintf("type %s added where any type was accepted", describe(sortedKeys(n.types))))
		return
	}
	var lost []string
	for _, t := range sortedKeys(oldTypes) {
		if !n.types[t] && (t != "integer" || !n.types["number"]) {
			lost = append(lost, t)
		}
	}
	if len(lost) > 0 {
		w.report(KindTypeNarrowed, n.typeAt, inst,
			fmt.Sprintf("type %s no longer accepted (now %s)", describe(lost), describe(sortedKeys(n.types))))
	}
}

func (w *walker) compareEnum(o, n *view, inst string) {
	if !n.hasEnum {
		return
	}
	if !o.hasEnum {
		w.report(KindEnumNarrowed, n.enumAt, inst, "enum or const added where any value of the type was accepted")
		return
	}
	allowed := canonSet(n.enum)
	var lost []string
	for _, e := range o.enum {
		if c := canon(e); !allowed[c] {
			lost = append(lost, c)
		}
	}
	if len(lost) > 0 {
		w.report(KindEnumNarrowed, n.enumAt, inst, fmt.Sprintf("value %s no longer accepted", describe(lost)))
	}
}

func (w *walker) compareObject(o, n *view, inst string) {
	for _, name := range sortedKeys(n.required) {
		if _, was := o.required[name]; !was {
			w.report(KindRequiredAdded, n.required[name], inst, fmt.Sprintf("property %q is now required", name))
		}
	}
	if n.closed {
		if !o.closed {
			w.report(KindObjectClosed, n.closedAt, inst,
				"the object is now closed: a property it does not name, once accepted, is refused")
		} else {
			var lost []string
			for _, name := range sortedKeys(o.allowed) {
				if !n.allowed[name] {
					lost = append(lost, strconv.Quote(name))
				}
			}
			if len(lost) > 0 {
				w.report(KindPropertyRemoved, n.closedAt, inst,
					fmt.Sprintf("property %s removed from a closed object: a document carrying it is refused", describe(lost)))
			}
		}
	}
	for _, name := range sortedKeys(o.props) {
		child := inst + "/" + escapeToken(name)
		switch {
		case len(n.props[name]) > 0:
			w.compare(o.props[name], n.props[name], child)
		case len(n.extra) > 0:
			w.compare(o.props[name], n.extra, child)
		}
	}
	for _, name := range sortedKeys(n.props) {
		if len(o.props[name]) > 0 {
			continue
		}
		child := inst + "/" + escapeToken(name)
		switch {
		case len(o.extra) > 0:
			w.compare(o.extra, n.props[name], child)
		case !o.closed:
			// A new property of an open object is additive (see Check), unless it
			// is declared only to be refused.
			if e := expand(n.props[name]); e.falseAt != nil {
				w.report(KindRejectsAll, *e.falseAt, child,
					fmt.Sprintf("property %q, once accepted by the open object, is now refused", name))
			}
		}
	}
	// Properties a closed object refused cannot be narrowed further.
	if len(n.extra) > 0 && (!o.closed || len(o.extra) > 0) {
		w.compare(o.extra, n.extra, inst+"/*")
	}
}

func (w *walker) compareBounds(o, n *view, inst string) {
	if n.lower != nil {
		switch {
		case o.lower == nil:
			w.report(KindLowerBoundRaised, n.lower.at, inst, fmt.Sprintf("lower limit %s added", boundText(n.lower, ">")))
		case stricterLower(n.lower, o.lower):
			w.report(KindLowerBoundRaised, n.lower.at, inst,
				fmt.Sprintf("lower limit raised from %s to %s", boundText(o.lower, ">"), boundText(n.lower, ">")))
		}
	}
	if n.upper != nil {
		switch {
		case o.upper == nil:
			w.report(KindUpperBoundLowered, n.upper.at, inst, fmt.Sprintf("upper limit %s added", boundText(n.upper, "<")))
		case stricterUpper(n.upper, o.upper):
			w.report(KindUpperBoundLowered, n.upper.at, inst,
				fmt.Sprintf("upper limit lowered from %s to %s", boundText(o.upper, "<"), boundText(n.upper, "<")))
		}
	}
	for _, k := range lowerCounts {
		nb, ob := n.minCount[k], o.minCount[k]
		switch {
		case nb == nil:
		case ob == nil:
			w.report(KindLowerBoundRaised, nb.at, inst, fmt.Sprintf("%s %s added", k, nb.val.RatString()))
		case nb.val.Cmp(ob.val) > 0:
			w.report(KindLowerBoundRaised, nb.at, inst, fmt.Sprintf("%s raised from %s to %s", k, ob.val.RatString(), nb.val.RatString()))
		}
	}
	for _, k := range upperCounts {
		nb, ob := n.maxCount[k], o.maxCount[k]
		switch {
		case nb == nil:
		case ob == nil:
			w.report(KindUpperBoundLowered, nb.at, inst, fmt.Sprintf("%s %s added", k, nb.val.RatString()))
		case nb.val.Cmp(ob.val) < 0:
			w.report(KindUpperBoundLowered, nb.at, inst, fmt.Sprintf("%s lowered from %s to %s", k, ob.val.RatString(), nb.val.RatString()))
		}
	}
	for _, nm := range n.multiple {
		ok := false
		for _, om := range o.multiple {
			if new(big.Rat).Quo(om.val, nm.val).IsInt() {
				ok = true
				break
			}
		}
		if !ok {
			w.report(KindMultipleOfChanged, nm.at, inst, fmt.Sprintf("multipleOf %s added or changed", nm.val.RatString()))
		}
	}
	if n.uniqueAt != nil && o.uniqueAt == nil {
		w.report(KindUniqueItemsAdded, *n.uniqueAt, inst, "uniqueItems added: an array with a repeated item is refused")
	}
}

func boundText(b *bound, op string) string {
	if !b.excl {
		op += "="
	}
	return op + " " + b.val.RatString()
}

func (w *walker) compareStrings(o, n *view, inst string) {
	for _, p := range sortedKeys(n.patterns) {
		if _, was := o.patterns[p]; !was {
			w.report(KindPatternChanged, n.patterns[p], inst, fmt.Sprintf("pattern %q added or changed", p))
		}
	}
	for _, f := range sortedKeys(n.formats) {
		if _, was := o.formats[f]; !was {
			w.report(KindFormatChanged, n.formats[f], inst, fmt.Sprintf("format %q added or changed", f))
		}
	}
}

// compareConditions pairs the if/then/else of both versions in order: a condition
// must be unchanged, and its then and else no stricter.
func (w *walker) compareConditions(o, n *view, inst string) {
	var oc, nc []condition
	for _, c := range o.conds {
		if c.hasEffects {
			oc = append(oc, c)
		}
	}
	for _, c := range n.conds {
		if c.hasEffects {
			nc = append(nc, c)
		}
	}
	for i, c := range nc {
		if i >= len(oc) {
			w.report(KindConditionalChanged, c.ifN, inst, "if/then/else added: a document meeting (or failing) the condition must now meet more")
			continue
		}
		if !w.equivalent([]node{oc[i].ifN}, []node{c.ifN}) {
			w.report(KindConditionalChanged, c.ifN, inst, "the condition of an if/then/else changed")
			continue
		}
		w.compare(optional(oc[i].then), optional(c.then), inst)
		w.compare(optional(oc[i].els), optional(c.els), inst)
	}
}

func optional(n *node) []node {
	if n == nil {
		return nil
	}
	return []node{*n}
}

// compareNots: the new not may exclude only what the old one excluded.
func (w *walker) compareNots(o, n *view, inst string) {
	for i, nn := range n.nots {
		if i >= len(o.nots) {
			w.report(KindNotChanged, nn, inst, "not added: values matching it are refused")
			continue
		}
		s := w.sub()
		s.compare([]node{nn}, []node{o.nots[i]}, "")
		w.keepUnknowns(s)
		if len(s.out) > 0 {
			w.report(KindNotChanged, nn, inst, "not changed: it may now exclude values the old one did not")
		}
	}
}

// compareAlternatives pairs anyOf and oneOf groups and their branches in order. An
// anyOf may gain branches; a oneOf may not (a value could then match two).
func (w *walker) compareAlternatives(o, n *view, inst string) {
	for i, ng := range n.anyOf {
		if i >= len(o.anyOf) {
			w.report(KindCompositionChanged, ng[0].parent("anyOf"), inst, "anyOf added")
			continue
		}
		og := o.anyOf[i]
		for j, ob := range og {
			if j >= len(ng) {
				w.report(KindCompositionChanged, ng[0].parent("anyOf"), inst, fmt.Sprintf("anyOf branch %d removed", j))
				continue
			}
			w.compare([]node{ob}, []node{ng[j]}, inst)
		}
	}
	for i, ng := range n.oneOf {
		if i >= len(o.oneOf) {
			w.report(KindCompositionChanged, ng[0].parent("oneOf"), inst, "oneOf added")
			continue
		}
		og := o.oneOf[i]
		if len(og) != len(ng) {
			w.report(KindCompositionChanged, ng[0].parent("oneOf"), inst,
				fmt.Sprintf("oneOf went from %d to %d branches: a value may now match none or two", len(og), len(ng)))
			continue
		}
		for j := range ng {
			if !w.equivalent([]node{og[j]}, []node{ng[j]}) {
				w.report(KindCompositionChanged, ng[j], inst, fmt.Sprintf("oneOf branch %d changed: a value may now match none or two", j))
			}
		}
	}
}

// parent is the node of the keyword holding an array element (for reports).
func (n node) parent(keyword string) node {
	p := n.ptr
	if i := strings.LastIndex(p, "/"); i >= 0 {
		p = p[:i]
	}
	if !strings.HasSuffix(p, "/"+keyword) {
		return n
	}
	return node{reg: n.reg, doc: n.doc, ptr: p}
}

// compareOthers: a keyword the check does not reason about must be the same in both.
func (w *walker) compareOthers(o, n *view, where node, inst string) {
	keys := map[string]bool{}
	for _, k := range o.otherKeys {
		keys[k] = true
	}
	for _, k := range n.otherKeys {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		ov, nv := o.others[k], n.others[k]
		switch {
		case len(ov) == 0:
			w.report(KindKeywordChanged, nv[0].at, inst, fmt.Sprintf("keyword %q added (not reasoned about: counted as breaking)", k))
		case len(nv) == 0:
			w.report(KindKeywordChanged, where, inst, fmt.Sprintf("keyword %q removed (not reasoned about: counted as breaking)", k))
		default:
			if !sameMultiset(ov, nv) {
				w.report(KindKeywordChanged, nv[0].at, inst, fmt.Sprintf("keyword %q changed (not reasoned about: counted as breaking)", k))
			}
		}
	}
}

func sameMultiset(a, b []otherKeyword) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, x := range a {
		count[x.canon]++
	}
	for _, x := range b {
		count[x.canon]--
		if count[x.canon] < 0 {
			return false
		}
	}
	return true
}
