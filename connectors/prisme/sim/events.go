package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The types of PRISME's outgoing events.
const (
	// TypeDessaisissement is a case transfer to another court or SPIP.
	TypeDessaisissement = "DESSAISISSEMENT"
	// TypeRapportValide is a report validated by the SPIP's management.
	TypeRapportValide = "RAPPORT_VALIDE"
)

// Evenement is one of PRISME's outgoing events (components.schemas.EvenementSortant).
type Evenement struct {
	// Curseur is the opaque cursor to pass as `apres` to read what follows.
	Curseur string `json:"curseur"`
	// ID is unique and stable: partners use it as their idempotency key.
	ID string `json:"id"`
	// Type is TypeDessaisissement or TypeRapportValide.
	Type string `json:"type"`
	// EmisLe is when PRISME emitted the event.
	EmisLe time.Time `json:"emisLe"`
	// DossierID is the PRISME file concerned.
	DossierID string `json:"dossierId"`
	// Dessaisissement is present when Type is TypeDessaisissement.
	Dessaisissement *Dessaisissement `json:"dessaisissement,omitempty"`
	// Rapport is present when Type is TypeRapportValide.
	Rapport *Rapport `json:"rapport,omitempty"`
}

// Personne is a person as the contract describes it (components.schemas.Personne).
type Personne struct {
	// Nom is the last name.
	Nom string `json:"nom"`
	// NomUsage is the name in use, when different.
	NomUsage string `json:"nomUsage,omitempty"`
	// Prenoms are the first names, in order.
	Prenoms []string `json:"prenoms"`
	// Sexe is M or F.
	Sexe string `json:"sexe,omitempty"`
	// DateNaissance is the birth date (AAAA-MM-JJ).
	DateNaissance string `json:"dateNaissance"`
	// LieuNaissance is the birth place.
	LieuNaissance string `json:"lieuNaissance,omitempty"`
	// The nationality, an ISO 3166-1 alpha-3 code.
	Nationalite string `json:"nationalite,omitempty"`
	// Adresse is the postal address.
	Adresse string `json:"adresse,omitempty"`
	// Identifiants are the person's identifiers in the partner systems.
	Identifiants Identifiants `json:"identifiants"`
}

// Identifiants are a person's identifiers in the partner systems.
type Identifiants struct {
	// NumeroEcrou is the GENESIS committal number.
	NumeroEcrou string `json:"numeroEcrou,omitempty"`
	// CodeEtablissement is the establishment of NumeroEcrou.
	CodeEtablissement string `json:"codeEtablissement,omitempty"`
	// NumeroDossierAppi is the APPI file number.
	NumeroDossierAppi string `json:"numeroDossierAppi,omitempty"`
	// NumerosParquet are case numbers (shared by co-defendants).
	NumerosParquet []string `json:"numerosParquet,omitempty"`
}

// Dessaisissement is a case transfer.
type Dessaisissement struct {
	// Personne is the person whose follow-up is transferred.
	Personne *Personne `json:"personne,omitempty"`
	// JuridictionOrigine is the court handing the case over.
	JuridictionOrigine string `json:"juridictionOrigine,omitempty"`
	// JuridictionDestination is the court taking it.
	JuridictionDestination string `json:"juridictionDestination,omitempty"`
	// Motif is DEMENAGEMENT, INCARCERATION or AUTRE.
	Motif string `json:"motif,omitempty"`
	// Date is the transfer's date (AAAA-MM-JJ).
	Date string `json:"date,omitempty"`
	// Mesures are the measures transferred.
	Mesures []MesureTransferee `json:"mesures,omitempty"`
	// NotesEntretien are the SPIP's interview notes: they must never leave PRISME
	// through the hub (the simulator sends them so that tests can prove it).
	NotesEntretien string `json:"notesEntretien,omitempty"`
	// ProchainRendezVous is the next SPIP appointment: never for a prosecutor-side
	// recipient.
	ProchainRendezVous *time.Time `json:"prochainRendezVous,omitempty"`
	// Pieces are the documents of the file, by hash.
	Pieces []Piece `json:"pieces,omitempty"`
}

// MesureTransferee is a measure listed in a case transfer.
type MesureTransferee struct {
	// NumeroMesure is the measure's number.
	NumeroMesure string `json:"numeroMesure,omitempty"`
	// TypeMesure is its type (SP, TIG, ...).
	TypeMesure string `json:"typeMesure,omitempty"`
	// DateDebut is when it started (AAAA-MM-JJ).
	DateDebut string `json:"dateDebut,omitempty"`
	// DateFin is when it ends (AAAA-MM-JJ).
	DateFin string `json:"dateFin,omitempty"`
	// Obligations are the obligations imposed.
	Obligations []string `json:"obligations,omitempty"`
}

// Piece is a document of a transferred file, described by its hash.
type Piece struct {
	// Titre is the document's title.
	Titre string `json:"titre,omitempty"`
	// Type is the document's type.
	Type string `json:"type,omitempty"`
	// Sha256 is the hex SHA-256 of the content.
	Sha256 string `json:"sha256,omitempty"`
	// Taille is the content's size in bytes.
	Taille int64 `json:"taille,omitempty"`
}

// Rapport is a validated report.
type Rapport struct {
	// Personne is the person the report is about.
	Personne *Personne `json:"personne,omitempty"`
	// NumeroMesure is the measure reported on.
	NumeroMesure string `json:"numeroMesure,omitempty"`
	// TypeRapport is RAPPORT_ANNUEL, RAPPORT_INCIDENT, RAPPORT_FIN_MESURE or
	// PRE_SENTENCIEL.
	TypeRapport string `json:"typeRapport,omitempty"`
	// ValidePar names who validated it (the DPIP).
	ValidePar string `json:"validePar,omitempty"`
	// ValideLe is when it was validated.
	ValideLe *time.Time `json:"valideLe,omitempty"`
	// Document is the report itself.
	Document *Document `json:"document,omitempty"`
}

// Document is a report's file, content included.
type Document struct {
	// Titre is its title.
	Titre string `json:"titre,omitempty"`
	// MediaType is its media type (application/pdf).
	MediaType string `json:"mediaType,omitempty"`
	// Sha256 is the hex SHA-256 of the decoded content.
	Sha256 string `json:"sha256,omitempty"`
	// Taille is the decoded content's size in bytes.
	Taille int64 `json:"taille,omitempty"`
	// ContenuBase64 is the content, standard base64.
	ContenuBase64 string `json:"contenuBase64,omitempty"`
}

// cursorPrefix starts every decoded cursor; the cursor itself is opaque to clients.
const cursorPrefix = "prisme-evenement:"

// encodeCursor makes the cursor of the n-th event (from 1).
func encodeCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(n)))
}

// decodeCursor reads a cursor back; false when it is not one of ours.
func decodeCursor(c string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), cursorPrefix))
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) || n < 1 {
		return 0, false
	}
	return n, true
}

// AddEvent appends an outgoing event to the feed. It fills ID (a UUID) and EmisLe (now)
// when empty, always assigns Curseur, and checks the event against the contract's
// EvenementSortant schema. It returns the event as stored.
func (s *Server) AddEvent(ev Evenement) (Evenement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addEventLocked(ev)
}

// addEventLocked is AddEvent with s.mu held.
func (s *Server) addEventLocked(ev Evenement) (Evenement, error) {
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if s.eventIDs[ev.ID] {
		return Evenement{}, fmt.Errorf("%w: %s", ErrDuplicateEvent, ev.ID)
	}
	if ev.EmisLe.IsZero() {
		ev.EmisLe = s.now().UTC()
	}
	ev.Curseur = encodeCursor(len(s.events) + 1)
	if err := validateValue(s.schemas.event, ev); err != nil {
		return Evenement{}, fmt.Errorf("%w: event %s: %w", ErrInvalidEvent, ev.ID, err)
	}
	s.events = append(s.events, ev)
	s.eventIDs[ev.ID] = true
	return ev, nil
}

// AddRawEvent appends an event to the feed as the given JSON bytes, unchecked: what a
// later PRISME version, or a faulty one, might serve — a type this contract does not
// know, a member of the wrong type, a missing field — so that tests can prove the hub
// copes. raw must be one JSON object; its "curseur" member is set (replaced or added)
// to the event's place in the feed, and the other members are served as they are
// (re-encoded, their order kept). It returns the cursor. In Events the event appears
// with its cursor, and with its id and type when they are strings.
func (s *Server) AddRawEvent(raw []byte) (string, error) {
	members, err := objectMembers(raw)
	if err != nil {
		return "", fmt.Errorf("%w: raw event: %w", ErrInvalidEvent, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ev Evenement
	for _, m := range members {
		switch m.name {
		case "id":
			_ = json.Unmarshal(m.value, &ev.ID)
		case "type":
			_ = json.Unmarshal(m.value, &ev.Type)
		}
	}
	if ev.ID != "" && s.eventIDs[ev.ID] {
		return "", fmt.Errorf("%w: %s", ErrDuplicateEvent, ev.ID)
	}
	ev.Curseur = encodeCursor(len(s.events) + 1)
	cursor, _ := json.Marshal(ev.Curseur)
	var b bytes.Buffer
	b.WriteString(`{"curseur":`)
	b.Write(cursor)
	for _, m := range members {
		if m.name == "curseur" {
			continue
		}
		name, _ := json.Marshal(m.name)
		b.WriteByte(',')
		b.Write(name)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	s.rawEvents[len(s.events)] = b.Bytes()
	s.events = append(s.events, ev)
	if ev.ID != "" {
		s.eventIDs[ev.ID] = true
	}
	return ev.Curseur, nil
}

// member is one member of a JSON object, in document order.
type member struct {
	name  string
	value json.RawMessage
}

// objectMembers splits one JSON object into its members, in order.
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		out = append(out, member{name: name, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("more than one JSON document")
	}
	return out, nil
}

// validateValue checks a Go value against a schema through its JSON form.
func validateValue(sch *jsonschema.Schema, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if err := sch.Validate(doc); err != nil {
		vs := schemaViolations(err)
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = v.Pointer + ": " + v.Detail
		}
		return fmt.Errorf("schema: %s", strings.Join(parts, "; "))
	}
	return nil
}

// Events returns every outgoing event, oldest first.
func (s *Server) Events() []Evenement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Default and largest page sizes of the events feed.
const (
	defaultLimite = 100
	maxLimite     = 500
)

// eventsPage is the 200 body of GET /api/v1/evenements: each item an Evenement, or
// the bytes AddRawEvent stored (a json.RawMessage).
type eventsPage struct {
	Evenements []any `json:"evenements"`
}

// handleEvents is GET /api/v1/evenements?apres=&limite=: events after the cursor,
// oldest first; an empty page means nothing newer yet.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, rec *exchange) {
	s.delay(r, EndpointEvenements)
	if !s.authorize(w, r, rec, ScopeLecture) || s.injectFailure(w, rec, EndpointEvenements) {
		return
	}
	q := r.URL.Query()
	limite := defaultLimite
	if v := q.Get("limite"); q.Has("limite") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimite {
			writeProblem(w, rec, newProblem(http.StatusBadRequest, "limite",
				fmt.Sprintf("limite : entier de 1 à %d attendu", maxLimite)))
			return
		}
		limite = n
	}
	apres := q.Get("apres")
	rec.Cursor = apres
	page, ok := s.page(rec, apres, limite)
	if !ok {
		writeProblem(w, rec, newProblem(http.StatusBadRequest, "curseur",
			"curseur inconnu : reprendre avec le curseur d'un événement reçu"))
		return
	}
	rec.Events = len(page.Evenements)
	writeJSON(w, rec, http.StatusOK, page)
}

// page cuts the page after apres (or, on a repeat-page fault, the page the client was
// served last); false when the cursor is not one PRISME gave.
func (s *Server) page(rec *exchange, apres string, limite int) (eventsPage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.takeRepeat() {
		if last, ok := s.lastPage[rec.ClientID]; ok {
			apres = last
		} else {
			apres = ""
		}
		rec.Fault = "repeat-page"
	}
	start := 0
	if apres != "" {
		n, ok := decodeCursor(apres)
		if !ok || n > len(s.events) {
			return eventsPage{}, false
		}
		start = n
	}
	end := min(start+limite, len(s.events))
	s.lastPage[rec.ClientID] = apres
	items := make([]any, 0, end-start)
	for i := start; i < end; i++ {
		if raw, ok := s.rawEvents[i]; ok {
			items = append(items, raw)
		} else {
			items = append(items, s.events[i])
		}
	}
	return eventsPage{Evenements: items}, true
}
