package canonical

// JudgmentNature is the nature of a criminal decision (nature de la décision).
type JudgmentNature string

// The values of JudgmentNature.
const (
	// NatureJugement is a first-instance judgment (jugement).
	NatureJugement JudgmentNature = "JUGEMENT"
	// NatureArret is a ruling of a court of appeal (arrêt).
	NatureArret JudgmentNature = "ARRET"
	// NatureOrdonnancePenale is a penal order (ordonnance pénale).
	NatureOrdonnancePenale JudgmentNature = "ORDONNANCE_PENALE"
	// NatureCRPC is a guilty-plea procedure (comparution sur reconnaissance préalable de culpabilité).
	NatureCRPC JudgmentNature = "CRPC"
)

// JudgmentCharacter tells how the defendant stood before the court (caractère).
type JudgmentCharacter string

// The values of JudgmentCharacter.
const (
	// CharacterContradictoire is a decision in the defendant's presence (contradictoire).
	CharacterContradictoire JudgmentCharacter = "CONTRADICTOIRE"
	// CharacterContradictoireASignifier is in their presence, still to be served (contradictoire à signifier).
	CharacterContradictoireASignifier JudgmentCharacter = "CONTRADICTOIRE_A_SIGNIFIER"
	// CharacterDefaut is by default (défaut).
	CharacterDefaut JudgmentCharacter = "DEFAUT"
	// CharacterIteratifDefaut is by repeated default (itératif défaut).
	CharacterIteratifDefaut JudgmentCharacter = "ITERATIF_DEFAUT"
)

// Judgment is a criminal judgment as it concerns one defendant, transmitted from
// Cassiopée (décision pénale, one per prévenu); type fr.justice.judgment.v1.
type Judgment struct {
	// TransmissionNumber increases at every re-transmission after a correction (numéro de transmission).
	TransmissionNumber int64 `json:"transmissionNumber"`
	// Court is the court that decided (juridiction).
	Court Court `json:"court"`
	// ProsecutionNumber is the procedure's prosecution case number (numéro parquet, NPP).
	ProsecutionNumber string `json:"prosecutionNumber"`
	// JudgmentNumber is the judgment's number (numéro de jugement).
	JudgmentNumber string `json:"judgmentNumber,omitempty"`
	// DecisionDate is the date of the decision (date de la décision).
	DecisionDate Date `json:"decisionDate"`
	// Nature is the nature of the decision (nature).
	Nature JudgmentNature `json:"nature"`
	// Character tells how the defendant stood before the court (caractère).
	Character JudgmentCharacter `json:"character"`
	// EnforceableOn is when the decision becomes enforceable (exécutoire le).
	EnforceableOn Date `json:"enforceableOn,omitempty"`
	// Appeal tells an appeal was lodged (appel).
	Appeal *bool `json:"appeal,omitempty"`
	// Person is the defendant (prévenu).
	Person Person `json:"person"`
	// Offences are the offences judged, at least one (infractions).
	Offences []Offence `json:"offences"`
	// Sentences are the sentences pronounced, at least one (peines).
	Sentences []Sentence `json:"sentences"`
}

// Court is the court that gave a judgment (juridiction).
type Court struct {
	// Code is the six-digit court code (code juridiction).
	Code string `json:"code"`
	// Label is the court's label, e.g. TJ LYON (libellé).
	Label string `json:"label"`
	// Clerk is the clerk or clerk's office that transmitted (greffier).
	Clerk string `json:"clerk,omitempty"`
}
