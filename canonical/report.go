package canonical

import (
	"encoding/base64"
	"fmt"
	"time"
)

// ReportKind is the kind of a probation report (type de rapport).
type ReportKind string

// The values of ReportKind.
const (
	// ReportAnnuel is an annual report (rapport annuel).
	ReportAnnuel ReportKind = "RAPPORT_ANNUEL"
	// ReportIncident is an incident report (rapport d'incident).
	ReportIncident ReportKind = "RAPPORT_INCIDENT"
	// ReportFinMesure is an end-of-measure report (rapport de fin de mesure).
	ReportFinMesure ReportKind = "RAPPORT_FIN_MESURE"
	// ReportPreSentenciel is a pre-sentence report (rapport pré-sentenciel).
	ReportPreSentenciel ReportKind = "PRE_SENTENCIEL"
)

// Report is a probation report validated by the probation service's director, for the
// sentence-enforcement judge (rapport validé); type fr.justice.report.v1.
type Report struct {
	// EventID is the PRISME event's id, unique and stable (id de l'événement).
	EventID string `json:"eventId"`
	// PrismeFileID is the file id in PRISME (dossierId).
	PrismeFileID string `json:"prismeFileId"`
	// EmittedAt is when PRISME emitted the event (émis le).
	EmittedAt time.Time `json:"emittedAt"`
	// Person is the person the report is about (personne).
	Person Person `json:"person"`
	// MeasureNumber is the APPI measure the report is about, when known (numéro de mesure).
	MeasureNumber string `json:"measureNumber,omitempty"`
	// Kind is the kind of report (type de rapport).
	Kind ReportKind `json:"kind"`
	// ValidatedBy is the director who validated the report (validé par, DPIP).
	ValidatedBy string `json:"validatedBy"`
	// ValidatedAt is when the report was validated (validé le).
	ValidatedAt time.Time `json:"validatedAt"`
	// Document is the report itself (document).
	Document ReportDocument `json:"document"`
}

// ReportDocument is a report's file with its content (document du rapport).
type ReportDocument struct {
	// Title is the report's title (titre).
	Title string `json:"title"`
	// MediaType is the content's media type, e.g. application/pdf (type de média).
	MediaType string `json:"mediaType"`
	// SHA256 is the decoded content's SHA-256 digest, lower-case hex (empreinte).
	SHA256 string `json:"sha256"`
	// Size is the decoded content's size in bytes (taille).
	Size int64 `json:"size"`
	// ContentBase64 is the content in standard padded base64, as received (contenu).
	ContentBase64 string `json:"contentBase64"`
}

// Content returns the decoded content of the report.
func (d *ReportDocument) Content() ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(d.ContentBase64)
	if err != nil {
		return nil, fmt.Errorf("canonical: report content is not base64: %w", err)
	}
	return b, nil
}
