package cassiopee

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/jsonstrict"
)

// contractSchemaJSON is the contract the clerks' workstations follow: a copy of
// contracts/cassiopee/decision.schema.json, byte for byte.
//
//go:embed decision.schema.json
var contractSchemaJSON []byte

// ContractSchema returns the contract's JSON Schema (decision.schema.json), for the
// intake to publish beside its answers. The slice is a copy.
func ContractSchema() []byte { return bytes.Clone(contractSchemaJSON) }

// Limits of what Decode reads.
const (
	// MaxBodyBytes is the largest body Decode accepts: 1 MiB. A decision is a few KiB;
	// PRISME, where each defendant's judgment goes, refuses bodies above 1 MiB too.
	MaxBodyBytes = 1 << 20
	// MaxDepth is the deepest nesting Decode accepts. The contract nests 6 levels
	// (prevenus[].peines[].obligations[]); 32 leaves room for fields a later format adds,
	// which are tolerated.
	MaxDepth = 32
)

// limits are the jsonstrict bounds of a clerk's body.
var limits = jsonstrict.Limits{MaxBytes: MaxBodyBytes, MaxDepth: MaxDepth}

// contract is the compiled schema and the property names it declares.
type contract struct {
	schema *jsonschema.Schema
	// names are every property name the contract declares: Redacted keeps a pointer
	// token only when it is one of them or an index, since a hostile body chooses the
	// names of its unknown fields (and could put a name in one).
	names map[string]bool
}

// loadContract compiles the embedded schema once; every call returns the same result.
var loadContract = sync.OnceValues(compileContract)

func compileContract() (*contract, error) {
	doc, err := jsonstrict.Decode(contractSchemaJSON)
	if err != nil {
		return nil, fmt.Errorf("cassiopee: decode the contract schema: %w", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("cassiopee: the contract schema is not a JSON object")
	}
	id, _ := obj["$id"].(string)
	if id == "" {
		return nil, errors.New("cassiopee: the contract schema has no $id")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// No loader: the contract refers to nothing outside itself, and must never make
	// the hub fetch anything.
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err := c.AddResource(id, doc); err != nil {
		return nil, fmt.Errorf("cassiopee: add the contract schema: %w", err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("cassiopee: compile the contract schema: %w", err)
	}
	names := map[string]bool{}
	collectPropertyNames(doc, names)
	return &contract{schema: sch, names: names}, nil
}

// collectPropertyNames adds the keys of every "properties" object of a schema.
func collectPropertyNames(v any, into map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		if props, ok := t["properties"].(map[string]any); ok {
			for k := range props {
				into[k] = true
			}
		}
		for _, c := range t {
			collectPropertyNames(c, into)
		}
	case []any:
		for _, c := range t {
			collectPropertyNames(c, into)
		}
	}
}

// Rule names the rule a Problem breaks: a JSON Schema keyword of the contract
// ("required", "pattern", ...), a JSON reading rule ("json-…"), or one of the rules the
// contract's schema cannot express (the other constants). Rules are stable identifiers,
// fit for logs, metrics and quarantine reasons.
type Rule string

// Reading rules: the body is not one well-formed JSON document within the limits.
const (
	// RuleJSONSyntax: the body is not JSON.
	RuleJSONSyntax Rule = "json-syntax"
	// RuleJSONTrailingData: something follows the JSON document.
	RuleJSONTrailingData Rule = "json-trailing-data"
	// RuleJSONDuplicateKey: an object names the same key twice.
	RuleJSONDuplicateKey Rule = "json-duplicate-key"
	// RuleJSONInvalidUTF8: a string is not valid UTF-8.
	RuleJSONInvalidUTF8 Rule = "json-invalid-utf8"
	// RuleJSONTooDeep: nesting deeper than MaxDepth.
	RuleJSONTooDeep Rule = "json-too-deep"
	// RuleJSONTooLarge: a body larger than MaxBodyBytes.
	RuleJSONTooLarge Rule = "json-too-large"
	// RuleJSONNumberOutOfRange: a number literal too long or with a huge exponent.
	RuleJSONNumberOutOfRange Rule = "json-number-out-of-range"
)

// The rules the contract states in words, or that the canonical model needs, and that
// its JSON Schema cannot say.
const (
	// RuleCalendarDate: a JJ/MM/AAAA date that is not in the calendar (31/02/2024).
	RuleCalendarDate Rule = "calendar-date"
	// RuleZeroDuration: a duration whose parts are all zero (0A0M0J, 0J).
	RuleZeroDuration Rule = "zero-duration"
	// RuleDurationOutOfRange: a duration part beyond MaxYears, MaxMonths or MaxDays.
	RuleDurationOutOfRange Rule = "duration-out-of-range"
	// RuleSuspendedExceedsDuration: dureeSursis is longer than duree.
	RuleSuspendedExceedsDuration Rule = "suspended-exceeds-duration"
	// RuleSuspendedWithoutDuration: dureeSursis without duree, the part of nothing.
	RuleSuspendedWithoutDuration Rule = "suspended-without-duration"
	// RuleEnforceableBeforeDecision: executoireLe is before dateDecision.
	RuleEnforceableBeforeDecision Rule = "enforceable-before-decision"
	// RuleHoursOnlyWithTIG: heures on a sentence other than TIG.
	RuleHoursOnlyWithTIG Rule = "hours-only-with-tig"
	// RuleAmountRequired: an AMENDE or JOURS_AMENDE without montant.
	RuleAmountRequired Rule = "amount-required"
	// RuleAmountOutOfRange: a montant beyond MaxAmountCents.
	RuleAmountOutOfRange Rule = "amount-out-of-range"
	// RuleDurationRequired: an EMP, EMP_SURSIS, EMP_SURSIS_PROBATOIRE, DDSE, SSJ or
	// JOURS_AMENDE without duree.
	RuleDurationRequired Rule = "duration-required"
	// RuleProbationPeriodRequired: an EMP_SURSIS_PROBATOIRE without delaiEpreuve.
	RuleProbationPeriodRequired Rule = "probation-period-required"
	// RuleDayFineInDays: a JOURS_AMENDE whose duree is not a number of days (2M).
	RuleDayFineInDays Rule = "day-fine-in-days"
	// RuleEmptyLabel: an offence whose libelle is empty (the canonical model requires one).
	RuleEmptyLabel Rule = "empty-label"
	// RuleTransmissionOutOfRange: numeroTransmission beyond 2^53-1.
	RuleTransmissionOutOfRange Rule = "transmission-number-out-of-range"
	// RuleDuplicateDefendant: two prévenus with the same name, first names and birth
	// date: they would be one fact, and one of them would be lost as a repeat.
	RuleDuplicateDefendant Rule = "duplicate-defendant"
)

// Problem is one reason a body is refused: where (a JSON pointer into the clerk's body,
// RFC 6901; "" is the whole body; for a missing field, the pointer it would have),
// which rule, and a French sentence for the clerk.
type Problem struct {
	// Pointer is the JSON pointer of the offending value (or of the missing field).
	Pointer string `json:"pointer"`
	// Rule is the rule broken.
	Rule Rule `json:"rule"`
	// Detail is a French sentence for the clerk who sent the body. It may quote the
	// clerk's own value (a birth date, a name): send it back to the clerk, never log it.
	Detail string `json:"detail"`
}

// Redacted returns "pointer: rule" without any value, the form logs and quarantine
// reasons use. A pointer token that is neither an index nor a field the contract
// declares is written "*": a hostile body chooses its unknown keys.
func (p Problem) Redacted() string {
	ptr := "(body)"
	if p.Pointer != "" {
		ptr = redactPointer(p.Pointer)
	}
	return ptr + ": " + string(p.Rule)
}

// redactPointer keeps the tokens of a pointer that are indexes or contract names.
func redactPointer(ptr string) string {
	c, err := loadContract()
	tokens := strings.Split(ptr, "/")
	for i, tok := range tokens {
		if i == 0 {
			continue // before the first "/"
		}
		if isIndex(tok) || (err == nil && c.names[tok]) {
			continue
		}
		tokens[i] = "*"
	}
	return strings.Join(tokens, "/")
}

// isIndex reports whether a pointer token is an array index of reasonable length.
func isIndex(tok string) bool {
	if tok == "" || len(tok) > 9 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

// Decode reads a body pushed by a clerk's workstation and returns the decision, or
// every problem found with it. In order:
//
//  1. strict JSON (internal/jsonstrict): one document, at most MaxBodyBytes and
//     MaxDepth, valid UTF-8, no duplicate key — a body that fails here gets one Problem;
//  2. the contract's JSON Schema (decision.schema.json, format assertions on): one
//     Problem per violation;
//  3. the rules the schema cannot say: real calendar dates, durations not all zero and
//     within the canonical bounds, dureeSursis not longer than duree (and not without
//     it), executoireLe not before dateDecision, heures only for a TIG, montant for
//     AMENDE and JOURS_AMENDE, duree for EMP, EMP_SURSIS, EMP_SURSIS_PROBATOIRE, DDSE,
//     SSJ and JOURS_AMENDE, a JOURS_AMENDE duree in days, delaiEpreuve for
//     EMP_SURSIS_PROBATOIRE, a non-empty offence label, a transmission number the
//     canonical model can carry, no defendant twice. A value the schema already
//     refused is not judged again, so each defect gives one Problem.
//
// Unknown fields are tolerated, as the contract says, and never carried: the Decision
// holds only the fields the contract names. On refusal the Decision is nil, the
// problems are sorted by pointer, and the error is a *RefusalError (errors.Is
// ErrRefused), marked connectors.ErrPermanent, whose text is redacted. Any other
// error means the embedded contract could not be compiled (a build defect).
func Decode(body []byte) (*Decision, []Problem, error) {
	c, err := loadContract()
	if err != nil {
		return nil, nil, err
	}
	doc, err := limits.Decode(body)
	if err != nil {
		ps := []Problem{jsonProblem(body, err)}
		return nil, ps, refused(ps)
	}
	b := &builder{}
	if err := c.schema.Validate(doc); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return nil, nil, fmt.Errorf("cassiopee: validate against the contract: %w", err)
		}
		b.problems = schemaProblems(verr)
		b.blocked = make(map[string]bool, len(b.problems))
		for _, p := range b.problems {
			b.blocked[p.Pointer] = true
		}
	}
	d := b.decision(doc)
	if len(b.problems) > 0 {
		sortProblems(b.problems)
		return nil, b.problems, refused(b.problems)
	}
	return d, nil, nil
}

// refused makes the error of a refusal.
func refused(ps []Problem) error {
	return connectors.Permanent(&RefusalError{Problems: ps})
}

// jsonProblem turns a jsonstrict error into the body's one Problem.
func jsonProblem(body []byte, err error) Problem {
	var je *jsonstrict.Error
	if !errors.As(err, &je) {
		return Problem{Rule: RuleJSONSyntax, Detail: "le corps n'est pas un document JSON lisible"}
	}
	at := " (octet " + strconv.FormatInt(je.Offset, 10) + ")"
	p := Problem{Pointer: je.Pointer}
	switch {
	case errors.Is(je, jsonstrict.ErrTooLarge):
		p.Rule, p.Detail = RuleJSONTooLarge, fmt.Sprintf("le corps dépasse la taille maximale admise (%d octets)", MaxBodyBytes)
	case errors.Is(je, jsonstrict.ErrTooDeep):
		p.Rule, p.Detail = RuleJSONTooDeep, fmt.Sprintf("le document est imbriqué sur plus de %d niveaux", MaxDepth)+at
	case errors.Is(je, jsonstrict.ErrDuplicateKey):
		p.Rule, p.Detail = RuleJSONDuplicateKey, "cette clé apparaît deux fois dans le même objet"+at
		if key, ok := stringAt(body, je.Offset); ok {
			p.Pointer += "/" + escapeToken(key)
			p.Detail = "la clé " + quoteText(key) + " apparaît deux fois dans le même objet" + at
		}
	case errors.Is(je, jsonstrict.ErrInvalidUTF8):
		p.Rule, p.Detail = RuleJSONInvalidUTF8, "le texte n'est pas de l'UTF-8 valide"+at
	case errors.Is(je, jsonstrict.ErrTrailingData):
		p.Rule, p.Detail = RuleJSONTrailingData, "des données suivent le document JSON"+at
	case errors.Is(je, jsonstrict.ErrNumberOutOfRange):
		p.Rule, p.Detail = RuleJSONNumberOutOfRange, "ce nombre est trop long ou son exposant trop grand"+at
	default:
		p.Rule, p.Detail = RuleJSONSyntax, "le corps n'est pas du JSON valide"+at
	}
	return p
}

// stringAt reads the JSON string that starts at offset (a duplicate key, which
// jsonstrict has already read as valid).
func stringAt(body []byte, offset int64) (string, bool) {
	if offset < 0 || offset >= int64(len(body)) || body[offset] != '"' {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(body[offset:]))
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	s, ok := tok.(string)
	return s, ok
}

// schemaProblems turns jsonschema/v6's tree of errors into one Problem per leaf cause.
func schemaProblems(root *jsonschema.ValidationError) []Problem {
	var out []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, leafProblems(e)...)
	}
	walk(root)
	return out
}

// leafProblems words one leaf error of the schema in French.
func leafProblems(e *jsonschema.ValidationError) []Problem {
	ptr := pointerOf(e.InstanceLocation)
	one := func(rule, detail string) []Problem {
		return []Problem{{Pointer: ptr, Rule: Rule(rule), Detail: detail}}
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		ps := make([]Problem, len(k.Missing))
		for i, name := range k.Missing {
			ps[i] = Problem{Pointer: ptr + "/" + escapeToken(name), Rule: "required", Detail: "le champ " + quoteText(name) + " est obligatoire"}
		}
		return ps
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = typeName(w)
		}
		if ptr == "" {
			return one("type", "le corps doit être un objet JSON, reçu "+typeName(k.Got))
		}
		return one("type", "attendu "+strings.Join(want, " ou ")+", reçu "+typeName(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return one("enum", quoteValue(k.Got)+" n'est pas une valeur admise ; valeurs admises : "+strings.Join(want, ", "))
	case *kind.Const:
		return one("const", "la valeur doit être "+quoteValue(k.Want)+", reçu "+quoteValue(k.Got))
	case *kind.Pattern:
		return one("pattern", patternDetail(k.Got, k.Want))
	case *kind.MinLength:
		if k.Want <= 1 {
			return one("minLength", "la valeur ne peut pas être vide")
		}
		return one("minLength", fmt.Sprintf("la valeur est trop courte : au moins %d caractères", k.Want))
	case *kind.MinItems:
		return one("minItems", fmt.Sprintf("la liste doit contenir au moins %d élément(s)", k.Want))
	case *kind.Minimum:
		return one("minimum", "la valeur doit être au moins "+k.Want.RatString()+", reçu "+k.Got.RatString())
	case *kind.Maximum:
		return one("maximum", "la valeur doit être au plus "+k.Want.RatString()+", reçu "+k.Got.RatString())
	case *kind.Format:
		return one("format", quoteValue(k.Got)+" n'est pas au format "+k.Want)
	}
	kw := "schema"
	if path := e.ErrorKind.KeywordPath(); len(path) > 0 {
		kw = path[0]
	}
	return one(kw, "valeur refusée par le contrat (règle "+kw+")")
}

// The contract's patterns, to word their violations.
const (
	patternDate    = "^[0-3][0-9]/[01][0-9]/[12][0-9]{3}$"
	patternDuree   = "^([0-9]+A)?([0-9]+M)?([0-9]+J)?$"
	patternMontant = "^[0-9]+(,[0-9]{2})?$"
	patternNatinf  = "^[0-9]{1,6}$"
	patternCode    = "^[0-9]{6}$"
	patternNPP     = "^[0-9]{5,11}$"
)

// patternDetail says which format a value misses.
func patternDetail(got, want string) string {
	v := quoteText(got)
	switch want {
	case patternDate:
		return v + " n'est pas une date au format JJ/MM/AAAA"
	case patternDuree:
		return v + " n'est pas une durée au format 2A6M15J (années A, mois M, jours J, dans cet ordre)"
	case patternMontant:
		return v + " n'est pas un montant au format 1500 ou 1500,00"
	case patternNatinf:
		return v + " n'est pas un code NATINF (1 à 6 chiffres)"
	case patternCode:
		return v + " n'est pas un code juridiction (6 chiffres)"
	case patternNPP:
		return v + " n'est pas un numéro parquet (5 à 11 chiffres)"
	}
	return v + " n'a pas le format attendu " + want
}

// typeName names a JSON type in French.
func typeName(t string) string {
	switch t {
	case "object":
		return "un objet"
	case "array":
		return "une liste"
	case "string":
		return "un texte"
	case "integer":
		return "un nombre entier"
	case "number":
		return "un nombre"
	case "boolean":
		return "un booléen (true ou false)"
	case "null":
		return "null"
	}
	return t
}

// maxQuoted is the longest value quoted back to the clerk, in runes.
const maxQuoted = 60

// quoteText quotes a text for a Detail, shortened past maxQuoted runes.
func quoteText(s string) string {
	if utf8.RuneCountInString(s) > maxQuoted {
		r := []rune(s)
		s = string(r[:maxQuoted]) + "…"
	}
	return strconv.Quote(s)
}

// quoteValue quotes a decoded JSON value for a Detail.
func quoteValue(v any) string {
	switch t := v.(type) {
	case string:
		return quoteText(t)
	case json.Number:
		return quoteText(string(t))
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	case map[string]any:
		return "un objet"
	case []any:
		return "une liste"
	}
	return fmt.Sprint(v)
}

// pointerOf writes an instance location as a JSON pointer.
func pointerOf(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(escapeToken(tok))
	}
	return b.String()
}

// escapeToken escapes ~ and / in a pointer token (RFC 6901).
func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// sortProblems orders problems by pointer — indexes compared as numbers, so that
// /prevenus/2 comes before /prevenus/10 — then by rule.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := comparePointers(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		return strings.Compare(string(a.Rule), string(b.Rule))
	})
}

func comparePointers(a, b string) int {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		if isIndex(ta[i]) && isIndex(tb[i]) {
			na, _ := strconv.Atoi(ta[i])
			nb, _ := strconv.Atoi(tb[i])
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
		}
		return strings.Compare(ta[i], tb[i])
	}
	return len(ta) - len(tb)
}

// builder turns the validated document into a Decision and applies the rules the
// schema cannot say. It is lenient with what the schema refused (a value of the wrong
// type reads as absent) and judges no value at or under a pointer the schema already
// refused, so that each defect gives one Problem.
type builder struct {
	problems []Problem
	blocked  map[string]bool
}

// add records a problem unless the schema already refused that value or its parent.
func (b *builder) add(ptr string, rule Rule, detail string) {
	if b.isBlocked(ptr) {
		return
	}
	b.problems = append(b.problems, Problem{Pointer: ptr, Rule: rule, Detail: detail})
}

// isBlocked reports whether the schema refused the value at ptr or one that holds it.
func (b *builder) isBlocked(ptr string) bool {
	if len(b.blocked) == 0 {
		return false
	}
	for {
		if b.blocked[ptr] {
			return true
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return false
		}
		ptr = ptr[:i]
	}
}

func (b *builder) decision(doc any) *Decision {
	root, _ := doc.(map[string]any)
	d := &Decision{
		VersionFormat:      str(root, "versionFormat"),
		NumeroTransmission: b.transmission(root["numeroTransmission"]),
	}
	jur, _ := root["juridiction"].(map[string]any)
	d.Juridiction = Juridiction{Code: str(jur, "code"), Libelle: str(jur, "libelle"), Greffier: str(jur, "greffier")}
	dec, _ := root["decision"].(map[string]any)
	d.Jugement = Jugement{
		NumeroParquet:  str(dec, "numeroParquet"),
		NumeroJugement: str(dec, "numeroJugement"),
		DateDecision:   str(dec, "dateDecision"),
		Nature:         str(dec, "nature"),
		Caractere:      str(dec, "caractere"),
		ExecutoireLe:   str(dec, "executoireLe"),
		Appel:          boolPtr(dec, "appel"),
	}
	decided, okDecided := b.date("/decision/dateDecision", d.Jugement.DateDecision)
	enforceable, okEnforceable := b.date("/decision/executoireLe", d.Jugement.ExecutoireLe)
	if okDecided && okEnforceable && enforceable < decided { // YYYY-MM-DD compare as text
		b.add("/decision/executoireLe", RuleEnforceableBeforeDecision,
			"la date exécutoire "+quoteText(d.Jugement.ExecutoireLe)+" précède la date de la décision "+quoteText(d.Jugement.DateDecision))
	}
	prevenus, _ := root["prevenus"].([]any)
	d.Prevenus = make([]Prevenu, len(prevenus))
	seen := make(map[string]int, len(prevenus))
	for i, v := range prevenus {
		ptr := "/prevenus/" + strconv.Itoa(i)
		key, ok := b.prevenu(&d.Prevenus[i], ptr, v)
		if !ok {
			continue
		}
		if first, dup := seen[key]; dup {
			b.add(ptr, RuleDuplicateDefendant, fmt.Sprintf(
				"ce prévenu figure déjà en /prevenus/%d (même nom, mêmes prénoms, même date de naissance) : un prévenu ne figure qu'une fois par décision", first))
			continue
		}
		seen[key] = i
	}
	return d
}

// prevenu fills p from the document and returns the defendant's identity key when it
// is complete and valid, for the duplicate check.
func (b *builder) prevenu(p *Prevenu, ptr string, v any) (string, bool) {
	m, _ := v.(map[string]any)
	id, _ := m["identite"].(map[string]any)
	p.Identite = Identite{
		Nom:           str(id, "nom"),
		NomUsage:      str(id, "nomUsage"),
		Prenoms:       strs(id, "prenoms"),
		Sexe:          str(id, "sexe"),
		DateNaissance: str(id, "dateNaissance"),
		LieuNaissance: str(id, "lieuNaissance"),
		Nationalite:   str(id, "nationalite"),
		Adresse:       str(id, "adresse"),
	}
	p.NumeroEcrou = str(m, "numeroEcrou")
	birth, okBirth := b.date(ptr+"/identite/dateNaissance", p.Identite.DateNaissance)

	infractions, _ := m["infractions"].([]any)
	p.Infractions = make([]Infraction, len(infractions))
	for j, iv := range infractions {
		im, _ := iv.(map[string]any)
		iptr := ptr + "/infractions/" + strconv.Itoa(j)
		inf := Infraction{Natinf: str(im, "natinf"), Libelle: str(im, "libelle"), DateFaits: str(im, "dateFaits"), Qualification: str(im, "qualification")}
		p.Infractions[j] = inf
		b.date(iptr+"/dateFaits", inf.DateFaits)
		if _, present := im["libelle"]; im != nil && present && inf.Libelle == "" {
			b.add(iptr+"/libelle", RuleEmptyLabel, "le libellé de l'infraction est vide")
		}
	}

	peines, _ := m["peines"].([]any)
	p.Peines = make([]Peine, len(peines))
	for j, pv := range peines {
		b.peine(&p.Peines[j], ptr+"/peines/"+strconv.Itoa(j), pv)
	}

	if !okBirth || p.Identite.Nom == "" || len(p.Identite.Prenoms) == 0 || b.isBlocked(ptr+"/identite") {
		return "", false
	}
	return canonical.CassiopeeDecisionRef("", p.Identite.Nom, p.Identite.Prenoms, birth), true
}

// durationRequired lists the codes that need a duree.
var durationRequired = map[string]bool{
	CodeEMP: true, CodeEMPSursis: true, CodeEMPSursisProbatoire: true,
	CodeDDSE: true, CodeSSJ: true, CodeJoursAmende: true,
}

func (b *builder) peine(p *Peine, ptr string, v any) {
	m, _ := v.(map[string]any)
	*p = Peine{
		Code:                 str(m, "code"),
		Duree:                str(m, "duree"),
		DureeSursis:          str(m, "dureeSursis"),
		DelaiEpreuve:         str(m, "delaiEpreuve"),
		Heures:               smallInt(m["heures"]),
		Montant:              str(m, "montant"),
		PrecisionObligations: str(m, "precisionObligations"),
		ExecutionProvisoire:  boolPtr(m, "executionProvisoire"),
		MandatDepot:          boolPtr(m, "mandatDepot"),
	}
	if obl, ok := m["obligations"].([]any); ok {
		p.Obligations = make([]string, len(obl))
		for i, o := range obl {
			p.Obligations[i], _ = o.(string)
		}
	}
	duree, okDuree := b.duree(ptr+"/duree", p.Duree)
	sursis, okSursis := b.duree(ptr+"/dureeSursis", p.DureeSursis)
	b.duree(ptr+"/delaiEpreuve", p.DelaiEpreuve)
	if p.Montant != "" {
		if _, err := ParseMontant(p.Montant); errors.Is(err, ErrOutOfRange) {
			b.add(ptr+"/montant", RuleAmountOutOfRange, quoteText(p.Montant)+" dépasse le montant maximal admis")
		}
	}

	_, known := sentenceKinds[p.Code]
	if known && !b.isBlocked(ptr+"/code") {
		code := quoteText(p.Code)
		if durationRequired[p.Code] && p.Duree == "" {
			b.add(ptr+"/duree", RuleDurationRequired, "la durée (duree) est obligatoire pour une peine "+code)
		}
		if p.Code == CodeEMPSursisProbatoire && p.DelaiEpreuve == "" {
			b.add(ptr+"/delaiEpreuve", RuleProbationPeriodRequired, "le délai d'épreuve (delaiEpreuve) est obligatoire pour une peine "+code)
		}
		if (p.Code == CodeAmende || p.Code == CodeJoursAmende) && p.Montant == "" {
			b.add(ptr+"/montant", RuleAmountRequired, "le montant est obligatoire pour une peine "+code)
		}
		if p.Heures != 0 && p.Code != CodeTIG {
			b.add(ptr+"/heures", RuleHoursOnlyWithTIG, "des heures ne se prononcent que pour un TIG, pas pour une peine "+code)
		}
		if p.Code == CodeJoursAmende && okDuree && (duree.Years != 0 || duree.Months != 0) {
			b.add(ptr+"/duree", RuleDayFineInDays,
				"pour des jours-amende, la durée est un nombre de jours (par exemple \"60J\"), reçu "+quoteText(p.Duree))
		}
	}
	if p.DureeSursis != "" && p.Duree == "" && !b.isBlocked(ptr+"/duree") {
		b.add(ptr+"/dureeSursis", RuleSuspendedWithoutDuration, "une durée de sursis est donnée sans la durée prononcée (duree) dont elle est une partie")
	}
	if okDuree && okSursis && SuspendedExceeds(sursis, duree) {
		b.add(ptr+"/dureeSursis", RuleSuspendedExceedsDuration,
			"la durée du sursis "+quoteText(p.DureeSursis)+" dépasse la durée prononcée "+quoteText(p.Duree))
	}
}

// SuspendedExceeds reports whether a suspended part is certainly longer than the
// duration it is part of, both as pronounced.
//
// Years and months compare exactly as months (a year is 12 months in calendar
// arithmetic, whatever the start date), days as days. Months and days together are
// not comparable without a start date: a month lasts 28 to 31 days. Both periods
// start on the same day, so the suspended part exceeds the duration when
// suspended − duration = Δm months + Δd days is longer than zero from every start
// date: when its shortest possible length, Δm×28 + Δd days for Δm ≥ 0 or Δm×31 + Δd
// for Δm < 0, is positive. So 6M15J is refused against 6M, 1M against 27J, 32J against
// 1M; 1M against 30J is not (February), nor 31J against 1M (a 31-day month): the
// court's wording is trusted wherever some calendar makes it consistent, and only
// impossible combinations, typing mistakes, are refused.
func SuspendedExceeds(suspended, duration canonical.Duration) bool {
	dm := (suspended.Years*12 + suspended.Months) - (duration.Years*12 + duration.Months)
	dd := suspended.Days - duration.Days
	perMonth := 28
	if dm < 0 {
		perMonth = 31
	}
	return dm*perMonth+dd > 0
}

// date checks a JJ/MM/AAAA date the schema let through and returns its canonical form.
func (b *builder) date(ptr, s string) (canonical.Date, bool) {
	if s == "" || b.isBlocked(ptr) {
		return "", false
	}
	d, err := ParseDate(s)
	if err != nil {
		b.add(ptr, RuleCalendarDate, quoteText(s)+" n'est pas une date du calendrier")
		return "", false
	}
	return d, true
}

// duree checks a duration the schema let through; false when absent or refused.
func (b *builder) duree(ptr, s string) (canonical.Duration, bool) {
	if s == "" || b.isBlocked(ptr) {
		return canonical.Duration{}, false
	}
	d, err := ParseDuree(s)
	switch {
	case errors.Is(err, ErrOutOfRange):
		b.add(ptr, RuleDurationOutOfRange, fmt.Sprintf("%s dépasse les bornes admises (%d ans, %d mois, %d jours)", quoteText(s), MaxYears, MaxMonths, MaxDays))
		return d, false
	case err != nil:
		b.add(ptr, "pattern", patternDetail(s, patternDuree))
		return d, false
	case d == canonical.Duration{}:
		b.add(ptr, RuleZeroDuration, quoteText(s)+" est une durée nulle : une durée prononcée a au moins une partie non nulle")
		return d, false
	}
	return d, true
}

// maxTransmission is the largest transmission number the canonical model carries.
const maxTransmission = 1<<53 - 1

// transmission reads numeroTransmission; the schema has checked it is an integer ≥ 1.
func (b *builder) transmission(v any) int64 {
	n, ok := v.(json.Number)
	if !ok || b.isBlocked("/numeroTransmission") {
		return 0
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || !r.IsInt() {
		return 0
	}
	if r.Num().Cmp(big.NewInt(maxTransmission)) > 0 {
		b.add("/numeroTransmission", RuleTransmissionOutOfRange,
			fmt.Sprintf("le numéro de transmission dépasse %d", int64(maxTransmission)))
		return 0
	}
	return r.Num().Int64()
}

// smallInt reads an integer the schema has bounded (heures: 1 to 400); 0 otherwise.
func smallInt(v any) int {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	if i, err := strconv.Atoi(string(n)); err == nil {
		return i
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || !r.IsInt() || !r.Num().IsInt64() || r.Num().Int64() < 0 || r.Num().Int64() > 1<<31-1 {
		return 0
	}
	return int(r.Num().Int64())
}

// str reads a string field; "" when absent or not a string.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// strs reads an array of strings; a non-string item reads as "".
func strs(m map[string]any, key string) []string {
	a, ok := m[key].([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(a))
	for i, v := range a {
		out[i], _ = v.(string)
	}
	return out
}

// boolPtr reads an optional boolean; nil when absent or not a boolean.
func boolPtr(m map[string]any, key string) *bool {
	v, ok := m[key].(bool)
	if !ok {
		return nil
	}
	return &v
}
