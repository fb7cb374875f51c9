package appi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"passerelle/canonical"
	"passerelle/connectors"
)

// EventSource is the CloudEvents source of the messages this connector produces.
const EventSource = "/connectors/appi"

// ContentTypeRow is the content type of a fact's raw input: one export row as JSON
// (EncodeRow).
const ContentTypeRow = "application/vnd.appi.mesures-export+json"

// ApplicationOrigine is what the sink writes in application_origine: every case
// transfer and report the hub carries to APPI comes from PRISME (contracts/README.md).
const ApplicationOrigine = canonical.SystemPrisme

// Row is one row of appi.mesures_export as the source reads it: every column as the
// text PostgreSQL gives for it (dates YYYY-MM-DD, maj_le "YYYY-MM-DD HH:MM:SS.ffffff+00"
// in UTC), nullable columns as pointers (nil is NULL). It is also the raw input kept in
// quarantine (EncodeRow, DecodeRow), so a replay maps exactly what was read.
type Row struct {
	Seq               int64   `json:"seq"`
	NumeroMesure      string  `json:"numero_mesure"`
	NumeroDossier     string  `json:"numero_dossier"`
	Nom               string  `json:"nom"`
	Prenoms           string  `json:"prenoms"`
	DateNaissance     string  `json:"date_naissance"`
	NumeroParquet     *string `json:"numero_parquet"`
	NumeroEcrou       *string `json:"numero_ecrou"`
	CodeEtablissement *string `json:"code_etablissement"`
	TypeMesure        string  `json:"type_mesure"`
	Juridiction       string  `json:"juridiction"`
	JAP               *string `json:"jap"`
	SPIPAntenne       *string `json:"spip_antenne"`
	DateDecision      string  `json:"date_decision"`
	DateDebut         *string `json:"date_debut"`
	DateFin           *string `json:"date_fin"`
	Obligations       *string `json:"obligations"`
	Statut            string  `json:"statut"`
	Observations      *string `json:"observations"`
	MajLe             string  `json:"maj_le"`
}

// EncodeRow is the raw form of a row: its JSON, columns by their names.
func EncodeRow(r *Row) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r) // strings, pointers to strings and an int64: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// DecodeRow decodes a raw row (EncodeRow's output) strictly: one JSON object, no
// unknown column, nothing after it. Errors are permanent ErrInvalidRaw and name no
// value.
func DecodeRow(raw []byte) (*Row, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var r Row
	if err := dec.Decode(&r); err != nil {
		return nil, connectors.Permanent(fmt.Errorf("%w: %s", ErrInvalidRaw, jsonProblem(err)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, connectors.Permanent(fmt.Errorf("%w: data after the row", ErrInvalidRaw))
	}
	return &r, nil
}

// jsonProblem describes a JSON decoding error without quoting the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("column %s is not a JSON %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "a column the export does not have"
	}
	return "not a JSON object of the export's columns"
}

// The mapping of contracts/README.md, from an export row to the canonical measure
// (schemas/measure.v1.json), as pure functions:
//
//	seq                                → version (and the message's factversion)
//	numero_mesure                      → measureNumber (and the fact: mesure/<numero_mesure>)
//	numero_dossier                     → person.identifiers.appiFileNumber
//	nom                                → person.lastName
//	prenoms (space separated)          → person.firstNames, in order
//	date_naissance                     → person.birthDate
//	numero_parquet                     → person.identifiers.prosecutionNumbers[0]
//	numero_ecrou, code_etablissement   → person.identifiers.committalNumber, establishmentCode
//	type_mesure                        → kind (the same codes)
//	juridiction, jap, spip_antenne     → court, judge, spipOffice
//	date_decision, date_debut, date_fin → decisionDate, startDate, endDate
//	obligations 'SOINS;TRAVAIL'        → obligations ["SOINS","TRAVAIL"]; NULL or '' → []
//	statut                             → status (the same codes)
//	observations                       → observations (kept in the hub; every
//	                                     destination's policy removes it)
//	maj_le                             → updatedAt, and the message's time
//
// Nullable text columns that are NULL or '' are absent from the measure. Codes are
// carried as APPI writes them, never guessed: a type_mesure, statut or obligation
// outside the canonical vocabulary is refused by the pipeline's schema validation
// with the field's pointer, and quarantined there. What makes a row impossible to map
// at all — no numero_mesure (no identity), no seq, a maj_le that does not parse — is
// an ErrInvalidRow here.

// MeasureOf maps an export row to the canonical measure.
func MeasureOf(r *Row) (canonical.Measure, error) {
	if err := checkRow(r); err != nil {
		return canonical.Measure{}, err
	}
	updated, err := parseMajLe(r.MajLe)
	if err != nil {
		return canonical.Measure{}, fmt.Errorf("%w: seq %d: maj_le is not a timestamp", ErrInvalidRow, r.Seq)
	}
	m := canonical.Measure{
		Version:       r.Seq,
		MeasureNumber: r.NumeroMesure,
		Kind:          canonical.MeasureKind(r.TypeMesure),
		Court:         r.Juridiction,
		Judge:         text(r.JAP),
		SPIPOffice:    text(r.SPIPAntenne),
		DecisionDate:  canonical.Date(r.DateDecision),
		StartDate:     canonical.Date(text(r.DateDebut)),
		EndDate:       canonical.Date(text(r.DateFin)),
		Obligations:   ObligationsOf(text(r.Obligations)),
		Status:        canonical.MeasureStatus(r.Statut),
		Observations:  text(r.Observations),
		UpdatedAt:     updated,
		Person:        PersonOf(r),
	}
	return m, nil
}

// checkRow reports what makes a row impossible to map.
func checkRow(r *Row) error {
	switch {
	case r.Seq <= 0:
		return fmt.Errorf("%w: seq is not positive", ErrInvalidRow)
	case strings.TrimSpace(r.NumeroMesure) == "":
		return fmt.Errorf("%w: seq %d: numero_mesure is blank", ErrInvalidRow, r.Seq)
	}
	return nil
}

// PersonOf maps the person columns of a row: first names split on white space in
// their order, the APPI file number, the numéro parquet and the écrou as identifiers.
func PersonOf(r *Row) canonical.Person {
	p := canonical.Person{
		LastName:   r.Nom,
		FirstNames: strings.Fields(r.Prenoms),
		BirthDate:  canonical.Date(r.DateNaissance),
		Identifiers: canonical.Identifiers{
			AppiFileNumber:    r.NumeroDossier,
			CommittalNumber:   text(r.NumeroEcrou),
			EstablishmentCode: text(r.CodeEtablissement),
		},
	}
	if n := text(r.NumeroParquet); n != "" {
		p.Identifiers.ProsecutionNumbers = []string{n}
	}
	return p
}

// ObligationsOf splits APPI's ';'-separated obligation codes in their order:
// "SOINS;TRAVAIL" is [SOINS TRAVAIL]; "" is [] (never nil, the field is required).
// White space around a code is not part of it, and an empty element (a trailing or
// doubled ';') is no obligation.
func ObligationsOf(s string) []canonical.Obligation {
	out := []canonical.Obligation{}
	for part := range strings.SplitSeq(s, ";") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, canonical.Obligation(part))
		}
	}
	return out
}

// text is the value of a nullable column, "" for NULL.
func text(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// majLeLayouts are the forms of maj_le: PostgreSQL's ISO output (the source's
// session runs with TimeZone UTC) and RFC 3339.
var majLeLayouts = []string{"2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano}

// parseMajLe reads maj_le, in UTC.
func parseMajLe(s string) (time.Time, error) {
	var err error
	for _, l := range majLeLayouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// MeasureFact is the fact identity of a row: APPI's measure mesure/<numero_mesure>
// in version seq, so that the newest seq of a measure wins downstream and its
// idempotency key (APPI:mesure/<numero_mesure>:<seq>) derives from the seq.
func MeasureFact(r *Row) canonical.FactID {
	return canonical.FactID{System: canonical.SystemAPPI, Ref: canonical.APPIMeasureRef(r.NumeroMesure), Version: r.Seq}
}

// MeasureMessage wraps the measure of r in a canonical message whose fact is the
// measure in version seq and whose time is maj_le. The subject is left empty for the
// pipeline to resolve from the person's identifiers.
func MeasureMessage(r *Row) (*canonical.Message, error) {
	m, err := MeasureOf(r)
	if err != nil {
		return nil, err
	}
	msg, err := canonical.NewMessage(canonical.TypeMeasure, EventSource, "", MeasureFact(r), m.UpdatedAt, &m)
	if err != nil {
		return nil, fmt.Errorf("appi: map seq %d: %w", r.Seq, err)
	}
	return msg, nil
}

// The mapping towards APPI's intake tables (contracts/README.md, "PRISME → APPI").

// Dessaisissement is one row of appi.dessaisissements_entrants, as the sink writes it.
type Dessaisissement struct {
	ReferenceExterne       string
	ApplicationOrigine     string
	NumeroDossierOrigine   string
	Nom                    string
	Prenoms                string
	DateNaissance          time.Time
	JuridictionOrigine     string
	JuridictionDestination string
	Motif                  string
	DateDessaisissement    time.Time
	// Mesures and Pieces are the jsonb columns (arrays with snake_case keys).
	Mesures []byte
	Pieces  []byte
}

// MesureTransferee is one element of dessaisissements_entrants.mesures.
type MesureTransferee struct {
	NumeroMesure string   `json:"numero_mesure"`
	TypeMesure   string   `json:"type_mesure"`
	DateDebut    *string  `json:"date_debut"`
	DateFin      *string  `json:"date_fin"`
	Obligations  []string `json:"obligations"`
}

// Piece is one element of dessaisissements_entrants.pieces.
type Piece struct {
	Titre  string  `json:"titre"`
	Type   *string `json:"type"`
	SHA256 string  `json:"sha256"`
	Taille int64   `json:"taille"`
}

// Rapport is one row of appi.rapports_entrants, as the sink writes it.
type Rapport struct {
	ReferenceExterne   string
	ApplicationOrigine string
	NumeroDossier      *string
	NumeroMesure       *string
	Nom                string
	Prenoms            string
	DateNaissance      time.Time
	TypeRapport        string
	ValidePar          string
	ValideLe           time.Time
	// Document is the jsonb column.
	Document []byte
}

// DocumentRapport is rapports_entrants.document, with the keys the contract names.
type DocumentRapport struct {
	Titre         string `json:"titre"`
	MediaType     string `json:"mediaType"`
	SHA256        string `json:"sha256"`
	Taille        int64  `json:"taille"`
	ContenuBase64 string `json:"contenuBase64"`
}

// fieldCheck collects the first missing field of a message.
type fieldCheck struct {
	typ     string
	problem error
}

// need records a problem when v is blank: field (canonical) feeds column (APPI).
func (c *fieldCheck) need(v, field, column string) string {
	if strings.TrimSpace(v) == "" && c.problem == nil {
		c.problem = fmt.Errorf("%w: %s: %s is required by column %s", ErrInvalidMessage, c.typ, field, column)
	}
	return v
}

// date parses a required date field.
func (c *fieldCheck) date(d canonical.Date, field, column string) time.Time {
	if c.need(string(d), field, column) == "" {
		return time.Time{}
	}
	t, err := d.Time()
	if err != nil && c.problem == nil {
		c.problem = fmt.Errorf("%w: %s: %s is not a calendar date (column %s)", ErrInvalidMessage, c.typ, field, column)
	}
	return t
}

// DessaisissementOf maps a canonical case transfer, delivered with key, to its row:
// reference_externe the key, application_origine PRISME, numero_dossier_origine the
// PRISME dossierId, first names joined by one space, measures and documents as JSON
// arrays with snake_case keys. nextAppointment has no column: it is not sent.
func DessaisissementOf(ct *canonical.CaseTransfer, key string) (Dessaisissement, error) {
	c := fieldCheck{typ: "case transfer"}
	d := Dessaisissement{
		ReferenceExterne:       key,
		ApplicationOrigine:     ApplicationOrigine,
		NumeroDossierOrigine:   c.need(ct.PrismeFileID, "prismeFileId", "numero_dossier_origine"),
		Nom:                    c.need(ct.Person.LastName, "person.lastName", "nom"),
		Prenoms:                c.need(JoinFirstNames(ct.Person.FirstNames), "person.firstNames", "prenoms"),
		DateNaissance:          c.date(ct.Person.BirthDate, "person.birthDate", "date_naissance"),
		JuridictionOrigine:     c.need(ct.OriginCourt, "originCourt", "juridiction_origine"),
		JuridictionDestination: c.need(ct.DestinationCourt, "destinationCourt", "juridiction_destination"),
		Motif:                  c.need(string(ct.Reason), "reason", "motif"),
		DateDessaisissement:    c.date(ct.Date, "date", "date_dessaisissement"),
	}
	mesures := make([]MesureTransferee, 0, len(ct.Measures))
	for i, m := range ct.Measures {
		f := fmt.Sprintf("measures[%d].", i)
		mt := MesureTransferee{
			NumeroMesure: c.need(m.MeasureNumber, f+"measureNumber", "mesures"),
			TypeMesure:   c.need(string(m.Kind), f+"kind", "mesures"),
			DateDebut:    optional(string(m.StartDate)),
			DateFin:      optional(string(m.EndDate)),
			Obligations:  make([]string, len(m.Obligations)),
		}
		for j, o := range m.Obligations {
			mt.Obligations[j] = string(o)
		}
		mesures = append(mesures, mt)
	}
	pieces := make([]Piece, 0, len(ct.Documents))
	for i, doc := range ct.Documents {
		f := fmt.Sprintf("documents[%d].", i)
		p := Piece{Titre: c.need(doc.Title, f+"title", "pieces"), Type: optional(doc.Type),
			SHA256: c.need(doc.SHA256, f+"sha256", "pieces"), Taille: doc.Size}
		if c.problem == nil && !isSHA256(p.SHA256) {
			c.problem = fmt.Errorf("%w: case transfer: %ssha256 is not 64 lower-case hex digits", ErrInvalidMessage, f)
		}
		pieces = append(pieces, p)
	}
	if c.problem != nil {
		return Dessaisissement{}, c.problem
	}
	d.Mesures = mustJSON(mesures)
	d.Pieces = mustJSON(pieces)
	return d, nil
}

// RapportOf maps a canonical report, delivered with key, to its row: numero_dossier
// the person's APPI file number when the message carries it, numero_mesure the
// measure when known, the document with its content, after checking that the content
// has the sha256 and the size the report declares (ErrDigestMismatch otherwise).
func RapportOf(r *canonical.Report, key string) (Rapport, error) {
	c := fieldCheck{typ: "report"}
	out := Rapport{
		ReferenceExterne:   key,
		ApplicationOrigine: ApplicationOrigine,
		NumeroDossier:      optional(r.Person.Identifiers.AppiFileNumber),
		NumeroMesure:       optional(r.MeasureNumber),
		Nom:                c.need(r.Person.LastName, "person.lastName", "nom"),
		Prenoms:            c.need(JoinFirstNames(r.Person.FirstNames), "person.firstNames", "prenoms"),
		DateNaissance:      c.date(r.Person.BirthDate, "person.birthDate", "date_naissance"),
		TypeRapport:        c.need(string(r.Kind), "kind", "type_rapport"),
		ValidePar:          c.need(r.ValidatedBy, "validatedBy", "valide_par"),
		ValideLe:           r.ValidatedAt,
	}
	if r.ValidatedAt.IsZero() && c.problem == nil {
		c.problem = fmt.Errorf("%w: report: validatedAt is required by column valide_le", ErrInvalidMessage)
	}
	d := r.Document
	c.need(d.Title, "document.title", "document")
	c.need(d.MediaType, "document.mediaType", "document")
	c.need(d.SHA256, "document.sha256", "document")
	if c.problem != nil {
		return Rapport{}, c.problem
	}
	if err := CheckDocument(&d); err != nil {
		return Rapport{}, err
	}
	out.Document = mustJSON(DocumentRapport{Titre: d.Title, MediaType: d.MediaType, SHA256: d.SHA256,
		Taille: d.Size, ContenuBase64: d.ContentBase64})
	return out, nil
}

// CheckDocument decodes a report's content and checks it against the sha256 and the
// size the report declares: a mismatch is ErrDigestMismatch, content that is not
// base64 ErrInvalidMessage. Neither error quotes the content or the digests.
func CheckDocument(d *canonical.ReportDocument) error {
	content, err := d.Content()
	if err != nil {
		return fmt.Errorf("%w: report: document.contentBase64 is not standard base64", ErrInvalidMessage)
	}
	sum := sha256.Sum256(content)
	switch {
	case !strings.EqualFold(hex.EncodeToString(sum[:]), d.SHA256):
		return fmt.Errorf("%w: report: the document's content does not have the declared sha256", ErrDigestMismatch)
	case int64(len(content)) != d.Size:
		return fmt.Errorf("%w: report: the document's content is %d bytes, %d declared", ErrDigestMismatch, len(content), d.Size)
	}
	return nil
}

// JoinFirstNames joins first names with one space, each name's own runs of white
// space made one space: APPI's prenoms column.
func JoinFirstNames(names []string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if n = strings.Join(strings.Fields(n), " "); n != "" {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, " ")
}

// optional is nil for "", else a pointer to s (a NULL column or JSON null).
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// isSHA256 reports whether s is 64 lower-case hex digits.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// mustJSON marshals v, made only of strings, numbers, pointers and slices of them.
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // cannot fail for these types
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
