package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// problemTypeBase prefixes the `type` of every problem PRISME answers.
const problemTypeBase = "urn:prisme:probleme:"

// Problem is an RFC 9457 problem details object as PRISME answers it.
type Problem struct {
	// Type identifies the kind of problem (urn:prisme:probleme:...).
	Type string `json:"type"`
	// Title is a short French summary of the kind of problem.
	Title string `json:"title"`
	// Status repeats the HTTP status.
	Status int `json:"status"`
	// Detail explains this occurrence, in French.
	Detail string `json:"detail,omitempty"`
	// Errors lists one entry per violation (422).
	Errors []Violation `json:"errors,omitempty"`
}

// Violation is one entry of a 422's `errors`: where (a JSON pointer into the body) and
// what.
type Violation struct {
	// Pointer is the RFC 6901 JSON pointer of the offending value (or of the missing
	// or unknown member).
	Pointer string `json:"pointer"`
	// Detail says, in French, which rule the value breaks; it never repeats the value.
	Detail string `json:"detail"`
}

// problemTitles gives each status its French title.
var problemTitles = map[int]string{
	http.StatusBadRequest:            "Requête invalide",
	http.StatusUnauthorized:          "Authentification requise",
	http.StatusForbidden:             "Droits insuffisants",
	http.StatusNotFound:              "Ressource inconnue",
	http.StatusConflict:              "Clé d'idempotence déjà utilisée",
	http.StatusRequestEntityTooLarge: "Corps de requête trop volumineux",
	http.StatusUnsupportedMediaType:  "Type de contenu non pris en charge",
	http.StatusUnprocessableEntity:   "Données non conformes au schéma",
	http.StatusTooManyRequests:       "Trop de requêtes",
	http.StatusServiceUnavailable:    "Service indisponible",
}

// newProblem builds the problem for a status, with a slug naming the cause.
func newProblem(status int, slug, detail string) Problem {
	title, ok := problemTitles[status]
	if !ok {
		title = http.StatusText(status)
	}
	return Problem{Type: problemTypeBase + slug, Title: title, Status: status, Detail: detail}
}

// writeProblem answers p as application/problem+json, logging the request first.
func writeProblem(w http.ResponseWriter, rec *exchange, p Problem) {
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"title":"Erreur interne","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	if rec != nil {
		rec.Status = p.Status
		rec.commit()
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// writeJSON answers v as application/json, logging the request first.
func writeJSON(w http.ResponseWriter, rec *exchange, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, rec, newProblem(http.StatusInternalServerError, "interne", "réponse impossible à encoder"))
		return
	}
	if rec != nil {
		rec.Status = status
		rec.commit()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// schemaViolations turns a validation error into one violation per broken rule, in
// French, sorted by pointer. The received values are never repeated: they are personal
// data and partners log these details.
func schemaViolations(err error) []Violation {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Pointer: "", Detail: "document non conforme au schéma"}}
	}
	var out []Violation
	collectViolations(ve, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	// The same rule may be reported through several paths of the schema.
	dedup := out[:0]
	for i, v := range out {
		if i > 0 && v == out[i-1] {
			continue
		}
		dedup = append(dedup, v)
	}
	return dedup
}

// collectViolations walks the error tree down to its leaves, the rules actually broken.
func collectViolations(ve *jsonschema.ValidationError, out *[]Violation) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collectViolations(c, out)
		}
		return
	}
	ptr := pointerOf(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, Violation{Pointer: ptr + "/" + escapePointer(m), Detail: "champ obligatoire absent"})
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, Violation{Pointer: ptr + "/" + escapePointer(p),
				Detail: "champ inconnu : PRISME ne stocke que les champs nommés par son schéma"})
		}
	default:
		*out = append(*out, Violation{Pointer: ptr, Detail: frenchDetail(ve.ErrorKind)})
	}
}

// pointerOf renders an instance location as a JSON pointer.
func pointerOf(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(escapePointer(tok))
	}
	return b.String()
}

// frenchTypes names JSON types in French.
var frenchTypes = map[string]string{
	"string": "chaîne", "integer": "entier", "number": "nombre", "object": "objet",
	"array": "tableau", "boolean": "booléen", "null": "null",
}

// frenchType names one JSON type in French.
func frenchType(t string) string {
	if f, ok := frenchTypes[t]; ok {
		return f
	}
	return t
}

// frenchDetail explains a broken rule in French without repeating the value.
func frenchDetail(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = frenchType(w)
		}
		return fmt.Sprintf("type invalide : %s attendu, %s reçu", strings.Join(want, " ou "), frenchType(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return "valeur non autorisée ; valeurs acceptées : " + strings.Join(want, ", ")
	case *kind.Const:
		return fmt.Sprintf("valeur attendue : %v", k.Want)
	case *kind.Format:
		switch k.Want {
		case "date":
			return "date invalide : AAAA-MM-JJ attendu, et une date réelle du calendrier"
		case "date-time":
			return "date-heure invalide : RFC 3339 attendu (AAAA-MM-JJThh:mm:ss avec Z ou un décalage)"
		}
		return fmt.Sprintf("format %s non respecté", k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("au moins %d élément(s) attendu(s)", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("au plus %d élément(s) attendu(s)", k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("au moins %d caractère(s) attendu(s)", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("au plus %d caractère(s) attendu(s)", k.Want)
	case *kind.Minimum:
		return "valeur inférieure au minimum " + k.Want.RatString()
	case *kind.Maximum:
		return "valeur supérieure au maximum " + k.Want.RatString()
	case *kind.Pattern:
		return "valeur ne respectant pas le motif " + k.Want
	case *kind.FalseSchema:
		return "valeur interdite à cet endroit"
	}
	return "valeur non conforme au schéma (règle " + strings.Join(k.KeywordPath(), "/") + ")"
}
