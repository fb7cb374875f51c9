package cassiopee

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ProblemTypeBase prefixes the `type` of every problem the intake answers.
const ProblemTypeBase = "urn:passerelle:cassiopee:probleme:"

// ProblemDetails is an RFC 9457 problem details object (application/problem+json) as
// the intake answers it, in French. It goes to the clerk who sent the request: Errors'
// details may quote the clerk's own values, so it is never logged.
type ProblemDetails struct {
	// Type identifies the kind of problem (ProblemTypeBase + a slug).
	Type string `json:"type"`
	// Title is a short French summary of the kind of problem.
	Title string `json:"title"`
	// Status repeats the HTTP status.
	Status int `json:"status"`
	// Detail explains this occurrence, in French.
	Detail string `json:"detail,omitempty"`
	// Errors lists one entry per violation (422), each with its JSON pointer.
	Errors []Problem `json:"errors,omitempty"`
}

// problemTitles gives each status its French title.
var problemTitles = map[int]string{
	http.StatusBadRequest:            "Requête invalide",
	http.StatusUnauthorized:          "Authentification requise",
	http.StatusForbidden:             "Transmission non autorisée",
	http.StatusNotFound:              "Ressource inconnue",
	http.StatusRequestEntityTooLarge: "Corps de requête trop volumineux",
	http.StatusUnsupportedMediaType:  "Type de contenu non pris en charge",
	http.StatusUnprocessableEntity:   "Décision non conforme",
	http.StatusInternalServerError:   "Erreur interne",
	http.StatusServiceUnavailable:    "Service indisponible",
}

func problemOf(status int, slug, detail string) ProblemDetails {
	title, ok := problemTitles[status]
	if !ok {
		title = http.StatusText(status)
	}
	return ProblemDetails{Type: ProblemTypeBase + slug, Title: title, Status: status, Detail: detail}
}

func writeProblem(w http.ResponseWriter, p ProblemDetails) {
	body, err := json.Marshal(p)
	if err != nil {
		p.Status = http.StatusInternalServerError
		body = []byte(`{"type":"` + ProblemTypeBase + `erreur-interne","title":"Erreur interne","status":500}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
