package prisme

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"passerelle/canonical"
	"passerelle/connectors"
)

// The mapper from PRISME's outgoing events (GET /api/v1/evenements, schema
// EvenementSortant) to canonical messages: pure functions, safe for concurrent use,
// logging nothing. Flows 4 and 5 of contracts/README.md: a DESSAISISSEMENT becomes a
// canonical case transfer, a RAPPORT_VALIDE a canonical report, each with the fact
// identity PRISME + evenement/<id> in version 0 (an event never changes), from which
// the destinations' idempotency keys (APPI's reference_externe) are derived.
//
// The SPIP's interview notes (notesEntretien) never enter the hub: every event is
// re-encoded without any member of that name, at any depth and in any letter case,
// before anything else reads it — the raw bytes kept for quarantine and replay
// included — and no struct here has a field for them.

// The types of PRISME's outgoing events the hub carries.
const (
	// EventDessaisissement is a case transfer (flow 4, towards APPI).
	EventDessaisissement = "DESSAISISSEMENT"
	// EventRapportValide is a report validated by the SPIP's director (flow 5).
	EventRapportValide = "RAPPORT_VALIDE"
)

// EventSource is the CloudEvents source of the messages the events source makes.
const EventSource = "/connectors/prisme"

// ContentTypeEvent is the content type of a fact's Raw: one event of the feed, as
// PRISME sent it, re-encoded without its interview notes.
const ContentTypeEvent = "application/json"

// notesMember is the member that never enters the hub.
const notesMember = "notesEntretien"

// Evenement is one of PRISME's outgoing events as the hub reads it (schema
// EvenementSortant), without the interview notes, which have no field here.
type Evenement struct {
	// Curseur is the cursor to read what follows this event.
	Curseur string `json:"curseur"`
	// ID is unique and stable: the fact's identity.
	ID string `json:"id"`
	// Type is EventDessaisissement or EventRapportValide (or one the hub skips).
	Type string `json:"type"`
	// EmisLe is when PRISME emitted the event, RFC 3339.
	EmisLe string `json:"emisLe"`
	// DossierID is PRISME's file id of the person.
	DossierID string `json:"dossierId"`
	// Dessaisissement is present when Type is EventDessaisissement.
	Dessaisissement *Dessaisissement `json:"dessaisissement"`
	// Rapport is present when Type is EventRapportValide.
	Rapport *Rapport `json:"rapport"`
}

// Dessaisissement is a case transfer as PRISME sends it, without notesEntretien.
type Dessaisissement struct {
	// Personne is the person whose follow-up is transferred.
	Personne *Personne `json:"personne"`
	// JuridictionOrigine is the court handing the case over.
	JuridictionOrigine string `json:"juridictionOrigine"`
	// JuridictionDestination is the court taking it.
	JuridictionDestination string `json:"juridictionDestination"`
	// Motif is DEMENAGEMENT, INCARCERATION or AUTRE.
	Motif string `json:"motif"`
	// Date is the transfer's date, YYYY-MM-DD.
	Date string `json:"date"`
	// Mesures are the measures transferred.
	Mesures []MesureTransferee `json:"mesures"`
	// ProchainRendezVous is the next SPIP appointment, RFC 3339: carried in the
	// canonical message (nextAppointment), which the policy denies to prosecution.
	ProchainRendezVous string `json:"prochainRendezVous"`
	// Pieces are the documents of the file, by digest.
	Pieces []Piece `json:"pieces"`
}

// MesureTransferee is a measure listed in a case transfer.
type MesureTransferee struct {
	// NumeroMesure is the measure's number.
	NumeroMesure string `json:"numeroMesure"`
	// TypeMesure is its kind (SP, TIG, ...).
	TypeMesure string `json:"typeMesure"`
	// DateDebut is when it started, YYYY-MM-DD.
	DateDebut string `json:"dateDebut"`
	// DateFin is when it ends, YYYY-MM-DD.
	DateFin string `json:"dateFin"`
	// Obligations are its obligation codes.
	Obligations []string `json:"obligations"`
}

// Piece is a document of a transferred file, described by its digest.
type Piece struct {
	// Titre is the document's title.
	Titre string `json:"titre"`
	// Type is the document's kind.
	Type string `json:"type"`
	// Sha256 is the hex SHA-256 of the content.
	Sha256 string `json:"sha256"`
	// Taille is the content's size in bytes.
	Taille *int64 `json:"taille"`
}

// Rapport is a validated report as PRISME sends it.
type Rapport struct {
	// Personne is the person the report is about.
	Personne *Personne `json:"personne"`
	// NumeroMesure is the measure reported on, when there is one.
	NumeroMesure string `json:"numeroMesure"`
	// TypeRapport is RAPPORT_ANNUEL, RAPPORT_INCIDENT, RAPPORT_FIN_MESURE or
	// PRE_SENTENCIEL.
	TypeRapport string `json:"typeRapport"`
	// ValidePar names the director who validated it.
	ValidePar string `json:"validePar"`
	// ValideLe is when it was validated, RFC 3339.
	ValideLe string `json:"valideLe"`
	// Document is the report itself.
	Document *DocumentRapport `json:"document"`
}

// DocumentRapport is a report's file, content included.
type DocumentRapport struct {
	// Titre is its title.
	Titre string `json:"titre"`
	// MediaType is its media type.
	MediaType string `json:"mediaType"`
	// Sha256 is the hex SHA-256 of the decoded content.
	Sha256 string `json:"sha256"`
	// Taille is the decoded content's size in bytes.
	Taille *int64 `json:"taille"`
	// ContenuBase64 is the content in standard base64.
	ContenuBase64 string `json:"contenuBase64"`
}

// EventFact is the fact identity of PRISME event id: PRISME, evenement/<id>, version 0.
func EventFact(id string) canonical.FactID {
	return canonical.FactID{System: canonical.SystemPrisme, Ref: canonical.PrismeEventRef(id), Version: 0}
}

// maxEventIDBytes bounds an event id: it becomes a fact reference, a key and a log
// field.
const maxEventIDBytes = 200

// eventID returns v if it is a usable event id: a non-empty printable string of at most
// maxEventIDBytes without spaces at its ends.
func eventID(v any) (string, bool) {
	s, ok := v.(string)
	if !ok || s == "" || len(s) > maxEventIDBytes || sanitize(s, maxEventIDBytes) != s {
		return "", false
	}
	return s, true
}

// eventHeader is what is read of an event before anything else: enough to place it in
// the feed and to name it, even when the rest is broken.
type eventHeader struct {
	cursor string // "" when absent or not a usable cursor
	id     string // "" when absent or not a usable id
	typ    string // the type when it is a string
	hasTyp bool
}

// headerOf reads the header of an event (any JSON value; a non-object has none).
func headerOf(raw []byte) eventHeader {
	var h struct {
		Curseur any `json:"curseur"`
		ID      any `json:"id"`
		Type    any `json:"type"`
	}
	var out eventHeader
	if json.Unmarshal(raw, &h) != nil {
		return out
	}
	if c, ok := h.Curseur.(string); ok && checkCursor(c) == nil {
		out.cursor = c
	}
	out.id, _ = eventID(h.ID)
	out.typ, out.hasTyp = h.Type.(string)
	return out
}

// carried reports whether the hub maps events of type typ.
func carried(typ string) bool { return typ == EventDessaisissement || typ == EventRapportValide }

// ScrubEvent returns one JSON value re-encoded without any object member named
// notesEntretien (compared with Unicode case folding, after unescaping), at any depth;
// member order, numbers and strings are kept (only insignificant white space and
// string escapes may change). It fails only on input that is not one JSON value.
func ScrubEvent(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	w := &jsonWriter{}
	w.enc = json.NewEncoder(&w.scratch)
	w.enc.SetEscapeHTML(false)
	if err := w.value(dec, 0); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("more than one JSON value")
	}
	return w.out.Bytes(), nil
}

// maxDepth bounds the nesting ScrubEvent follows (encoding/json's own limit).
const maxDepth = 10000

// jsonWriter re-encodes the tokens of a decoder.
type jsonWriter struct {
	out     bytes.Buffer
	scratch bytes.Buffer
	enc     *json.Encoder
}

// str writes a JSON string.
func (w *jsonWriter) str(s string) {
	w.scratch.Reset()
	_ = w.enc.Encode(s) // a string always encodes
	w.out.Write(bytes.TrimSuffix(w.scratch.Bytes(), []byte("\n")))
}

// value copies one JSON value from dec, dropping the notes members.
func (w *jsonWriter) value(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errors.New("nested too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return w.object(dec, depth)
		}
		return w.array(dec, depth)
	case string:
		w.str(t)
	case json.Number:
		w.out.WriteString(t.String())
	case bool:
		w.out.WriteString(strconv.FormatBool(t))
	case nil:
		w.out.WriteString("null")
	}
	return nil
}

// object copies the rest of an object whose '{' was read.
func (w *jsonWriter) object(dec *json.Decoder, depth int) error {
	w.out.WriteByte('{')
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if strings.EqualFold(name, notesMember) {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if !first {
			w.out.WriteByte(',')
		}
		first = false
		w.str(name)
		w.out.WriteByte(':')
		if err := w.value(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	w.out.WriteByte('}')
	return nil
}

// array copies the rest of an array whose '[' was read.
func (w *jsonWriter) array(dec *json.Decoder, depth int) error {
	w.out.WriteByte('[')
	for i := 0; dec.More(); i++ {
		if i > 0 {
			w.out.WriteByte(',')
		}
		if err := w.value(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	w.out.WriteByte(']')
	return nil
}

// DecodeEvent decodes one event of the feed — raw already scrubbed of its notes — and
// maps it to its canonical message. The error says which stage failed: ErrMalformedEvent
// (stage "decode"), ErrInvalidEvent (stage "map"), or ErrUnknownEventType for a type
// the hub does not carry; all are marked permanent. Texts name the event id and field
// paths, never a value.
func DecodeEvent(raw []byte) (*canonical.Message, error) {
	ev, err := decodeEvenement(raw)
	if err != nil {
		return nil, err
	}
	return MessageOf(ev)
}

// decodeEvenement decodes the typed event, without mapping it.
func decodeEvenement(raw []byte) (*Evenement, error) {
	h := headerOf(raw)
	name := h.id
	if name == "" {
		name = "(no usable id)"
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, connectors.Permanent(fmt.Errorf("%w: event %s: not a JSON object", ErrMalformedEvent, name))
	}
	var ev Evenement
	if err := json.Unmarshal(trimmed, &ev); err != nil {
		return nil, connectors.Permanent(fmt.Errorf("%w: event %s: %s", ErrMalformedEvent, name, jsonErrorKind(err)))
	}
	if _, ok := eventID(ev.ID); !ok {
		return nil, connectors.Permanent(fmt.Errorf("%w: event %s: id: a printable identifier of 1 to %d bytes expected",
			ErrMalformedEvent, name, maxEventIDBytes))
	}
	return &ev, nil
}

// MessageOf maps a decoded event to its canonical message: a case transfer for a
// DESSAISISSEMENT, a report for a RAPPORT_VALIDE, with the fact EventFact(id) and the
// event's emisLe as time; the subject is left to the pipeline.
func MessageOf(ev *Evenement) (*canonical.Message, error) {
	var typ string
	var data any
	var emitted time.Time
	switch ev.Type {
	case EventDessaisissement:
		ct, err := CaseTransferOf(ev)
		if err != nil {
			return nil, err
		}
		typ, data, emitted = canonical.TypeCaseTransfer, ct, ct.EmittedAt
	case EventRapportValide:
		r, err := ReportOf(ev)
		if err != nil {
			return nil, err
		}
		typ, data, emitted = canonical.TypeReport, r, r.EmittedAt
	case "":
		return nil, connectors.Permanent(fmt.Errorf("%w: event %s: type: required", ErrInvalidEvent, ev.ID))
	default:
		return nil, connectors.Permanent(fmt.Errorf("%w: event %s", ErrUnknownEventType, ev.ID))
	}
	m, err := canonical.NewMessage(typ, EventSource, "", EventFact(ev.ID), emitted, data)
	if err != nil {
		return nil, connectors.Permanent(fmt.Errorf("%w: event %s: %w", ErrInvalidEvent, ev.ID, err))
	}
	return m, nil
}

// checks collects the problems of one event, by path.
type checks struct {
	problems []string
}

// add notes a problem at path.
func (c *checks) add(path, rule string) { c.problems = append(c.problems, path+": "+rule) }

// text returns v, noting path when it is blank.
func (c *checks) text(path, v string) string {
	if strings.TrimSpace(v) == "" {
		c.add(path, "required")
	}
	return v
}

// date returns v as a date, noting path when it is missing (and required) or not a
// calendar date.
func (c *checks) date(path, v string, required bool) canonical.Date {
	switch {
	case v == "" && required:
		c.add(path, "required")
	case v != "" && !canonical.Date(v).Valid():
		c.add(path, "not a YYYY-MM-DD calendar date")
	}
	return canonical.Date(v)
}

// instant parses v (RFC 3339), noting path when it is missing (and required) or not
// an instant.
func (c *checks) instant(path, v string, required bool) time.Time {
	if v == "" {
		if required {
			c.add(path, "required")
		}
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		c.add(path, "not an RFC 3339 date-time")
		return time.Time{}
	}
	return t
}

// digest returns v in lower case, noting path when it is not 64 hex digits.
func (c *checks) digest(path, v string) string {
	if v == "" {
		c.add(path, "required")
		return v
	}
	if _, err := hex.DecodeString(v); err != nil || len(v) != 2*sha256.Size {
		c.add(path, "not a hex SHA-256")
	}
	return strings.ToLower(v)
}

// size returns *v, noting path when it is missing or negative.
func (c *checks) size(path string, v *int64) int64 {
	switch {
	case v == nil:
		c.add(path, "required")
		return 0
	case *v < 0:
		c.add(path, "negative")
	}
	return *v
}

// err returns the permanent ErrInvalidEvent error naming every problem, or nil.
func (c *checks) err(id string) error {
	if len(c.problems) == 0 {
		return nil
	}
	return connectors.Permanent(fmt.Errorf("%w: event %s: %s", ErrInvalidEvent, id, strings.Join(c.problems, ", ")))
}

// common checks the members every event has and returns its emisLe.
func (c *checks) common(ev *Evenement) time.Time {
	c.text("dossierId", ev.DossierID)
	return c.instant("emisLe", ev.EmisLe, true)
}

// CaseTransferOf maps a DESSAISISSEMENT event to a canonical case transfer:
// juridictionOrigine → originCourt, juridictionDestination → destinationCourt, motif →
// reason, mesures → measures (numeroMesure → measureNumber, typeMesure → kind, the
// obligation codes as they are), pieces → documents (digests in lower case),
// prochainRendezVous → nextAppointment, and the person with PRISME's dossierId among
// their identifiers. The interview notes have no field: they never enter the hub.
// Codes (motif, typeMesure, obligations) are kept as PRISME sent them: the canonical
// schema checks their vocabulary.
func CaseTransferOf(ev *Evenement) (*canonical.CaseTransfer, error) {
	var c checks
	emitted := c.common(ev)
	d := ev.Dessaisissement
	if d == nil {
		c.add("dessaisissement", "required")
		return nil, c.err(ev.ID)
	}
	ct := &canonical.CaseTransfer{
		EventID:          ev.ID,
		PrismeFileID:     ev.DossierID,
		EmittedAt:        emitted,
		Person:           c.person("dessaisissement.personne", d.Personne, ev.DossierID),
		OriginCourt:      c.text("dessaisissement.juridictionOrigine", d.JuridictionOrigine),
		DestinationCourt: c.text("dessaisissement.juridictionDestination", d.JuridictionDestination),
		Reason:           canonical.TransferReason(c.text("dessaisissement.motif", d.Motif)),
		Date:             c.date("dessaisissement.date", d.Date, true),
		NextAppointment:  c.instant("dessaisissement.prochainRendezVous", d.ProchainRendezVous, false),
	}
	if d.Mesures == nil {
		c.add("dessaisissement.mesures", "required")
	}
	ct.Measures = make([]canonical.TransferredMeasure, len(d.Mesures))
	for i, m := range d.Mesures {
		at := "dessaisissement.mesures[" + strconv.Itoa(i) + "]"
		ct.Measures[i] = canonical.TransferredMeasure{
			MeasureNumber: c.text(at+".numeroMesure", m.NumeroMesure),
			Kind:          canonical.MeasureKind(c.text(at+".typeMesure", m.TypeMesure)),
			StartDate:     c.date(at+".dateDebut", m.DateDebut, false),
			EndDate:       c.date(at+".dateFin", m.DateFin, false),
		}
		if m.Obligations != nil {
			obl := make([]canonical.Obligation, len(m.Obligations))
			for j, o := range m.Obligations {
				obl[j] = canonical.Obligation(o)
			}
			ct.Measures[i].Obligations = obl
		}
	}
	if d.Pieces != nil {
		ct.Documents = make([]canonical.Document, len(d.Pieces))
	}
	for i, p := range d.Pieces {
		at := "dessaisissement.pieces[" + strconv.Itoa(i) + "]"
		ct.Documents[i] = canonical.Document{
			Title:  c.text(at+".titre", p.Titre),
			Type:   p.Type,
			SHA256: c.digest(at+".sha256", p.Sha256),
			Size:   c.size(at+".taille", p.Taille),
		}
	}
	if err := c.err(ev.ID); err != nil {
		return nil, err
	}
	return ct, nil
}

// ReportOf maps a RAPPORT_VALIDE event to a canonical report: typeRapport → kind,
// validePar → validatedBy, valideLe → validatedAt, the document with its content,
// whose SHA-256 and size are checked against sha256 and taille (a mismatch is a
// corrupted transmission: ErrInvalidEvent); content wrapped on several lines is put
// back on one.
func ReportOf(ev *Evenement) (*canonical.Report, error) {
	var c checks
	emitted := c.common(ev)
	r := ev.Rapport
	if r == nil {
		c.add("rapport", "required")
		return nil, c.err(ev.ID)
	}
	rep := &canonical.Report{
		EventID:       ev.ID,
		PrismeFileID:  ev.DossierID,
		EmittedAt:     emitted,
		Person:        c.person("rapport.personne", r.Personne, ev.DossierID),
		MeasureNumber: r.NumeroMesure,
		Kind:          canonical.ReportKind(c.text("rapport.typeRapport", r.TypeRapport)),
		ValidatedBy:   c.text("rapport.validePar", r.ValidePar),
		ValidatedAt:   c.instant("rapport.valideLe", r.ValideLe, true),
	}
	if doc := r.Document; doc == nil {
		c.add("rapport.document", "required")
	} else {
		rep.Document = canonical.ReportDocument{
			Title:     c.text("rapport.document.titre", doc.Titre),
			MediaType: c.text("rapport.document.mediaType", doc.MediaType),
			SHA256:    c.digest("rapport.document.sha256", doc.Sha256),
			Size:      c.size("rapport.document.taille", doc.Taille),
		}
		rep.Document.ContentBase64 = c.content("rapport.document", doc.ContenuBase64, rep.Document.SHA256, rep.Document.Size)
	}
	if err := c.err(ev.ID); err != nil {
		return nil, err
	}
	return rep, nil
}

// content checks a report's base64 content against its digest and size, and returns it
// on one line.
func (c *checks) content(path, b64, sha string, size int64) string {
	if b64 == "" {
		c.add(path+".contenuBase64", "required")
		return ""
	}
	content, err := base64.StdEncoding.DecodeString(b64) // ignores line breaks
	if err != nil {
		c.add(path+".contenuBase64", "not standard padded base64")
		return ""
	}
	sum := sha256.Sum256(content)
	if len(sha) == 2*sha256.Size && hex.EncodeToString(sum[:]) != sha {
		c.add(path+".sha256", "does not match the content")
	}
	if int64(len(content)) != size {
		c.add(path+".taille", "does not match the content")
	}
	if strings.ContainsAny(b64, "\r\n") {
		return base64.StdEncoding.EncodeToString(content)
	}
	return b64
}

// person maps the person of an event, adding PRISME's dossierId to their identifiers.
// Numéros parquet repeated are kept once, in their order.
func (c *checks) person(path string, p *Personne, dossierID string) canonical.Person {
	if p == nil {
		c.add(path, "required")
		return canonical.Person{Identifiers: canonical.Identifiers{PrismeFileID: dossierID}}
	}
	out := canonical.Person{
		LastName:    c.text(path+".nom", p.Nom),
		UsageName:   p.NomUsage,
		FirstNames:  p.Prenoms,
		Sex:         canonical.Sex(p.Sexe),
		BirthDate:   c.date(path+".dateNaissance", p.DateNaissance, true),
		BirthPlace:  p.LieuNaissance,
		Nationality: p.Nationalite,
		Address:     p.Adresse,
		Identifiers: canonical.Identifiers{
			CommittalNumber:   p.Identifiants.NumeroEcrou,
			EstablishmentCode: p.Identifiants.CodeEtablissement,
			AppiFileNumber:    p.Identifiants.NumeroDossierAppi,
			PrismeFileID:      dossierID,
		},
	}
	if len(p.Prenoms) == 0 {
		c.add(path+".prenoms", "at least one first name required")
	}
	for i, f := range p.Prenoms {
		c.text(path+".prenoms["+strconv.Itoa(i)+"]", f)
	}
	seen := map[string]bool{}
	for _, n := range p.Identifiants.NumerosParquet {
		if !seen[n] {
			seen[n] = true
			out.Identifiers.ProsecutionNumbers = append(out.Identifiers.ProsecutionNumbers, n)
		}
	}
	return out
}
