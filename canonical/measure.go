package canonical

import "time"

// MeasureStatus is the state of a sentence-enforcement measure (statut de la mesure).
type MeasureStatus string

// The values of MeasureStatus.
const (
	// MeasureStatusAPrendreEnCharge is waiting to be taken in charge (à prendre en charge).
	MeasureStatusAPrendreEnCharge MeasureStatus = "A_PRENDRE_EN_CHARGE"
	// MeasureStatusEnCours is in progress (en cours).
	MeasureStatusEnCours MeasureStatus = "EN_COURS"
	// MeasureStatusSuspendue is suspended (suspendue).
	MeasureStatusSuspendue MeasureStatus = "SUSPENDUE"
	// MeasureStatusTerminee is ended (terminée).
	MeasureStatusTerminee MeasureStatus = "TERMINEE"
	// MeasureStatusRevoquee is revoked (révoquée).
	MeasureStatusRevoquee MeasureStatus = "REVOQUEE"
	// MeasureStatusArchivee is archived (archivée).
	MeasureStatusArchivee MeasureStatus = "ARCHIVEE"
)

// Measure is the state of a sentence-enforcement measure as APPI exports it (mesure);
// type fr.justice.measure.v1. Observations is sensitive: it travels to no destination.
type Measure struct {
	// Version is the APPI export sequence of this state (seq APPI).
	Version int64 `json:"version"`
	// MeasureNumber is the measure's stable id in APPI (numéro de mesure).
	MeasureNumber string `json:"measureNumber"`
	// Kind is the kind of measure (type de mesure).
	Kind MeasureKind `json:"kind"`
	// Court is the court's label, e.g. TJ LYON (juridiction).
	Court string `json:"court"`
	// Judge is the sentence-enforcement judge in charge (JAP).
	Judge string `json:"judge,omitempty"`
	// SPIPOffice is the probation office in charge (antenne SPIP).
	SPIPOffice string `json:"spipOffice,omitempty"`
	// DecisionDate is the date of the decision (date de la décision).
	DecisionDate Date `json:"decisionDate"`
	// StartDate is when the measure starts (date de début).
	StartDate Date `json:"startDate,omitempty"`
	// EndDate is when the measure ends (date de fin).
	EndDate Date `json:"endDate,omitempty"`
	// Obligations are the measure's obligations, empty when none (obligations).
	Obligations []Obligation `json:"obligations"`
	// Status is the state of the measure (statut).
	Status MeasureStatus `json:"status"`
	// Observations is the judge's office free text; sensitive (observations).
	Observations string `json:"observations,omitempty"`
	// UpdatedAt is when APPI last changed the measure (maj_le).
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	// Person is the person under the measure (personne).
	Person Person `json:"person"`
}
