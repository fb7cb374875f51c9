package canonical

// CustodyStatus is the custody status of a person in prison (statut du détenu).
type CustodyStatus string

// The values of CustodyStatus.
const (
	// CustodyStatusPrevenu is on remand, not finally judged (prévenu).
	CustodyStatusPrevenu CustodyStatus = "PREVENU"
	// CustodyStatusCondamne is serving a final sentence (condamné).
	CustodyStatusCondamne CustodyStatus = "CONDAMNE"
	// CustodyStatusMixte is both on remand and serving a sentence (mixte).
	CustodyStatusMixte CustodyStatus = "MIXTE"
)

// DecisionKind is the kind of decision behind a conviction (nature de la décision).
type DecisionKind string

// The values of DecisionKind.
const (
	// DecisionJugement is a first-instance judgment (jugement).
	DecisionJugement DecisionKind = "JUGEMENT"
	// DecisionArret is a ruling of a court of appeal or assize court (arrêt).
	DecisionArret DecisionKind = "ARRET"
	// DecisionOrdonnance is an order (ordonnance).
	DecisionOrdonnance DecisionKind = "ORDONNANCE"
)

// ReductionType is the kind of a sentence reduction (type de réduction de peine).
type ReductionType string

// The values of ReductionType.
const (
	// ReductionRP is an ordinary sentence reduction (réduction de peine).
	ReductionRP ReductionType = "RP"
	// ReductionRPS is an additional sentence reduction (réduction de peine supplémentaire).
	ReductionRPS ReductionType = "RPS"
	// ReductionRetrait is the withdrawal of a reduction: its days count against the person (retrait).
	ReductionRetrait ReductionType = "RETRAIT"
)

// PenalRecord is the current state of a person's penal record in a prison
// establishment, as GENESIS keeps it (fiche pénale); type fr.justice.penal-record.v1.
type PenalRecord struct {
	// CommittalNumber is the committal number at the establishment (numéro d'écrou).
	CommittalNumber string `json:"committalNumber"`
	// EstablishmentCode is the prison establishment's code (code établissement).
	EstablishmentCode string `json:"establishmentCode"`
	// EstablishmentName is the prison establishment's name (libellé établissement).
	EstablishmentName string `json:"establishmentName,omitempty"`
	// Version is the GENESIS version of the record, increased at every change (version).
	Version int64 `json:"version"`
	// Person is the person in custody (personne).
	Person Person `json:"person"`
	// CommittalDate is the date of committal (date d'écrou).
	CommittalDate Date `json:"committalDate"`
	// Status is the custody status (statut).
	Status CustodyStatus `json:"status"`
	// Convictions are the convictions being served, empty on remand only (condamnations).
	Convictions []Conviction `json:"convictions"`
	// Reductions are the sentence reductions granted or withdrawn (réductions de peine).
	Reductions []Reduction `json:"reductions,omitzero"`
	// SecurityPeriodEnd is the end of the security period (fin de période de sûreté).
	SecurityPeriodEnd Date `json:"securityPeriodEnd,omitempty"`
	// ProjectedReleaseDate is the projected release date (date de libération prévisionnelle).
	ProjectedReleaseDate Date `json:"projectedReleaseDate,omitempty"`
	// ReleaseDate is when the committal was lifted (date de levée d'écrou).
	ReleaseDate Date `json:"releaseDate,omitempty"`
}

// Conviction is a conviction being served (condamnation).
type Conviction struct {
	// DecisionReference is the decision's reference in GENESIS (référence de la décision).
	DecisionReference string `json:"decisionReference,omitempty"`
	// Court is the court's label, e.g. TJ LYON (juridiction).
	Court string `json:"court"`
	// DecisionDate is the date of the decision (date de la décision).
	DecisionDate Date `json:"decisionDate"`
	// DecisionKind is the kind of decision (nature de la décision).
	DecisionKind DecisionKind `json:"decisionKind,omitempty"`
	// ProsecutionNumber is the procedure's prosecution case number (numéro parquet).
	ProsecutionNumber string `json:"prosecutionNumber,omitempty"`
	// Offences are the offences of the conviction (infractions).
	Offences []Offence `json:"offences"`
	// Sentences are the sentences of the conviction (peines).
	Sentences []Sentence `json:"sentences"`
}

// Reduction is a sentence reduction granted or withdrawn (réduction de peine).
type Reduction struct {
	// Type is RP, RPS or RETRAIT (type).
	Type ReductionType `json:"type"`
	// Days is the number of days granted or withdrawn (jours).
	Days int `json:"days"`
	// DecisionDate is the date of the judge's decision (date de la décision).
	DecisionDate Date `json:"decisionDate"`
}

// NetReductionDays returns the reductions' net effect in days: RP and RPS days minus
// RETRAIT days (PRISME's reductionsJours).
func (p *PenalRecord) NetReductionDays() int {
	n := 0
	for _, r := range p.Reductions {
		switch r.Type {
		case ReductionRP, ReductionRPS:
			n += r.Days
		case ReductionRetrait:
			n -= r.Days
		}
	}
	return n
}
