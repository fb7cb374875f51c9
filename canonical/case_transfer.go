package canonical

import "time"

// TransferReason is why a case is transferred (motif du dessaisissement).
type TransferReason string

// The values of TransferReason.
const (
	// ReasonDemenagement is a move to another area (déménagement).
	ReasonDemenagement TransferReason = "DEMENAGEMENT"
	// ReasonIncarceration is an incarceration (incarcération).
	ReasonIncarceration TransferReason = "INCARCERATION"
	// ReasonAutre is another reason (autre).
	ReasonAutre TransferReason = "AUTRE"
)

// CaseTransfer is a PRISME case transfer: a person's follow-up handed from one court
// and probation service to another (dessaisissement); type fr.justice.case-transfer.v1.
// The SPIP interview notes have no field: they never enter the hub. NextAppointment
// never goes to a prosecutor-side recipient.
type CaseTransfer struct {
	// EventID is the PRISME event's id, unique and stable (id de l'événement).
	EventID string `json:"eventId"`
	// PrismeFileID is the file id in PRISME (dossierId).
	PrismeFileID string `json:"prismeFileId"`
	// EmittedAt is when PRISME emitted the event (émis le).
	EmittedAt time.Time `json:"emittedAt"`
	// Person is the person whose follow-up is transferred (personne).
	Person Person `json:"person"`
	// OriginCourt is the court handing the case over (juridiction d'origine).
	OriginCourt string `json:"originCourt"`
	// DestinationCourt is the court taking it over (juridiction de destination).
	DestinationCourt string `json:"destinationCourt"`
	// Reason is why the case is transferred (motif).
	Reason TransferReason `json:"reason"`
	// Date is the date of the transfer (date du dessaisissement).
	Date Date `json:"date"`
	// Measures are the measures transferred (mesures).
	Measures []TransferredMeasure `json:"measures"`
	// Documents are the documents joined, by digest (pièces).
	Documents []Document `json:"documents,omitzero"`
	// NextAppointment is the next probation appointment (prochain rendez-vous SPIP).
	NextAppointment time.Time `json:"nextAppointment,omitzero"`
}

// TransferredMeasure is a measure handed over with a case (mesure transférée).
type TransferredMeasure struct {
	// MeasureNumber is the measure's number (numéro de mesure).
	MeasureNumber string `json:"measureNumber"`
	// Kind is the kind of measure (type de mesure).
	Kind MeasureKind `json:"kind"`
	// StartDate is when the measure started (date de début).
	StartDate Date `json:"startDate,omitempty"`
	// EndDate is when the measure ends (date de fin).
	EndDate Date `json:"endDate,omitempty"`
	// Obligations are the measure's obligations (obligations).
	Obligations []Obligation `json:"obligations,omitzero"`
}

// Document is a document joined to a case transfer, described by its digest; its
// content does not travel (pièce).
type Document struct {
	// Title is the document's title (titre).
	Title string `json:"title"`
	// Type is the kind of document as PRISME names it (type).
	Type string `json:"type,omitempty"`
	// SHA256 is the content's SHA-256 digest, lower-case hex (empreinte).
	SHA256 string `json:"sha256"`
	// Size is the content's size in bytes (taille).
	Size int64 `json:"size"`
}
