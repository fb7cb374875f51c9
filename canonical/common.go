package canonical

import (
	"fmt"
	"time"
)

// dateLayout is the layout of a Date, ISO 8601 calendar date.
const dateLayout = "2006-01-02"

// Date is a calendar date written YYYY-MM-DD (date), kept as the string the message
// carries so that it round-trips unchanged. The schemas refuse impossible dates such as
// 2024-02-31; Time and Valid check the same in Go.
type Date string

// DateOf returns the calendar date of t in t's own location.
func DateOf(t time.Time) Date { return Date(t.Format(dateLayout)) }

// Time returns the date at midnight UTC, or ErrInvalidDate when it is not a real
// calendar date written YYYY-MM-DD.
func (d Date) Time() (time.Time, error) {
	t, err := time.Parse(dateLayout, string(d))
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: not a YYYY-MM-DD calendar date", ErrInvalidDate)
	}
	return t, nil
}

// Valid reports whether d is a real calendar date written YYYY-MM-DD.
func (d Date) Valid() bool {
	_, err := d.Time()
	return err == nil
}

// Duration is a length as the court pronounced it (quantum, durée): never normalised,
// 18 months stays 18 months; 0/0/0 is allowed.
type Duration struct {
	// Years is the number of years (années).
	Years int `json:"years"`
	// Months is the number of months (mois).
	Months int `json:"months"`
	// Days is the number of days (jours).
	Days int `json:"days"`
}

// Sex is a person's sex as the civil status records it (sexe).
type Sex string

// The values of Sex.
const (
	// SexMale is M (masculin).
	SexMale Sex = "M"
	// SexFemale is F (féminin).
	SexFemale Sex = "F"
)

// Person is the person a fact is about (personne). Address is sensitive: it goes to
// PRISME only, and never into logs.
type Person struct {
	// LastName is the birth surname (nom).
	LastName string `json:"lastName"`
	// UsageName is the surname in use when it differs (nom d'usage).
	UsageName string `json:"usageName,omitempty"`
	// FirstNames are the first names in civil-status order, the usual one first (prénoms).
	FirstNames []string `json:"firstNames"`
	// Sex is M or F (sexe).
	Sex Sex `json:"sex,omitempty"`
	// BirthDate is the date of birth (date de naissance).
	BirthDate Date `json:"birthDate"`
	// BirthPlace is the place of birth, a free label (lieu de naissance).
	BirthPlace string `json:"birthPlace,omitempty"`
	// Nationality is the ISO 3166-1 alpha-3 code of the person's citizenship.
	Nationality string `json:"nationality,omitempty"`
	// Address is the postal address, free text; sensitive (adresse postale).
	Address string `json:"address,omitempty"`
	// Identifiers are the person's identifiers in each system (identifiants).
	Identifiers Identifiers `json:"identifiers"`
}

// Identifiers are a person's identifiers in each system that knows them (identifiants).
type Identifiers struct {
	// CommittalNumber is the GENESIS committal number (numéro d'écrou).
	CommittalNumber string `json:"committalNumber,omitempty"`
	// EstablishmentCode is the prison establishment of that committal (code établissement).
	EstablishmentCode string `json:"establishmentCode,omitempty"`
	// AppiFileNumber is the person's file number in APPI (numéro de dossier APPI).
	AppiFileNumber string `json:"appiFileNumber,omitempty"`
	// ProsecutionNumbers are the prosecution case numbers known for the person; never
	// enough alone to identify them, since co-defendants share them (numéros parquet).
	ProsecutionNumbers []string `json:"prosecutionNumbers,omitzero"`
	// PrismeFileID is the person's file id in PRISME (dossierId).
	PrismeFileID string `json:"prismeFileId,omitempty"`
}

// OffenceClassification is the legal class of an offence (qualification).
type OffenceClassification string

// The values of OffenceClassification.
const (
	// ClassificationContravention is a petty offence (contravention).
	ClassificationContravention OffenceClassification = "CONTRAVENTION"
	// ClassificationDelit is a mid-level offence (délit).
	ClassificationDelit OffenceClassification = "DELIT"
	// ClassificationCrime is a serious offence tried by a cour d'assises (crime).
	ClassificationCrime OffenceClassification = "CRIME"
)

// Offence is an offence the person was prosecuted or convicted for (infraction).
type Offence struct {
	// Natinf is the NATINF code of the offence, digits (code NATINF).
	Natinf string `json:"natinf"`
	// Label is the label of the offence (libellé).
	Label string `json:"label"`
	// OffenceDate is when the offence was committed (date des faits).
	OffenceDate Date `json:"offenceDate,omitempty"`
	// Classification is the legal class of the offence (qualification).
	Classification OffenceClassification `json:"classification,omitempty"`
}

// SentenceKind is the kind of a sentence (nature de la peine).
type SentenceKind string

// The values of SentenceKind.
const (
	// SentenceEmprisonnement is imprisonment (emprisonnement ferme).
	SentenceEmprisonnement SentenceKind = "EMPRISONNEMENT"
	// SentenceReclusionCriminelle is criminal imprisonment for a crime (réclusion criminelle).
	SentenceReclusionCriminelle SentenceKind = "RECLUSION_CRIMINELLE"
	// SentenceDetentionCriminelle is criminal detention for a political crime (détention criminelle).
	SentenceDetentionCriminelle SentenceKind = "DETENTION_CRIMINELLE"
	// SentenceEmprisonnementSursis is a simple suspended sentence (emprisonnement avec sursis).
	SentenceEmprisonnementSursis SentenceKind = "EMPRISONNEMENT_SURSIS"
	// SentenceSursisProbatoire is a suspended sentence with probation (sursis probatoire).
	SentenceSursisProbatoire SentenceKind = "SURSIS_PROBATOIRE"
	// SentenceTIG is community service (travail d'intérêt général).
	SentenceTIG SentenceKind = "TIG"
	// SentenceDDSE is home detention under electronic monitoring (détention à domicile sous surveillance électronique).
	SentenceDDSE SentenceKind = "DDSE"
	// SentenceAmende is a fine (amende).
	SentenceAmende SentenceKind = "AMENDE"
	// SentenceJoursAmende is a day-fine: an amount per day for a number of days (jours-amende).
	SentenceJoursAmende SentenceKind = "JOURS_AMENDE"
	// SentenceStage is a compulsory course, e.g. citizenship (stage).
	SentenceStage SentenceKind = "STAGE"
	// SentenceSuiviSocioJudiciaire is socio-judicial supervision (suivi socio-judiciaire).
	SentenceSuiviSocioJudiciaire SentenceKind = "SUIVI_SOCIO_JUDICIAIRE"
	// SentenceInterdiction is a prohibition, a complementary sentence (interdiction).
	SentenceInterdiction SentenceKind = "INTERDICTION"
	// SentenceConfiscation is a confiscation (confiscation).
	SentenceConfiscation SentenceKind = "CONFISCATION"
	// SentenceContraintePenale is the former penal constraint (contrainte pénale).
	SentenceContraintePenale SentenceKind = "CONTRAINTE_PENALE"
	// SentenceRevocationSursis is the revocation of an earlier suspended sentence (révocation de sursis).
	SentenceRevocationSursis SentenceKind = "REVOCATION_SURSIS"
)

// Obligation is an obligation or prohibition imposed on a person (obligation).
type Obligation string

// The values of Obligation.
const (
	// ObligationSoins is an obligation of medical care (soins).
	ObligationSoins Obligation = "SOINS"
	// ObligationTravail is an obligation to work (travail).
	ObligationTravail Obligation = "TRAVAIL"
	// ObligationFormation is an obligation of training (formation).
	ObligationFormation Obligation = "FORMATION"
	// ObligationIndemniserVictime is an obligation to compensate the victim (indemniser la victime).
	ObligationIndemniserVictime Obligation = "INDEMNISER_VICTIME"
	// ObligationResidence is an obligation to reside at a place (résidence).
	ObligationResidence Obligation = "RESIDENCE"
	// ObligationInterdictionContactVictime forbids contact with the victim (interdiction de contact).
	ObligationInterdictionContactVictime Obligation = "INTERDICTION_CONTACT_VICTIME"
	// ObligationInterdictionParaitre forbids appearing in a place (interdiction de paraître).
	ObligationInterdictionParaitre Obligation = "INTERDICTION_PARAITRE"
	// ObligationStage is an obligation to attend a course (stage).
	ObligationStage Obligation = "STAGE"
	// ObligationJustifierPaiement is an obligation to prove payment (justifier du paiement).
	ObligationJustifierPaiement Obligation = "JUSTIFIER_PAIEMENT"
	// ObligationAutre is another obligation (autre).
	ObligationAutre Obligation = "AUTRE"
)

// Sentence is a sentence pronounced by a court (peine). ObligationDetails is
// sensitive: it goes to PRISME only, and never into logs.
type Sentence struct {
	// Kind is the kind of sentence (nature).
	Kind SentenceKind `json:"kind"`
	// Duration is the length of the sentence; for JOURS_AMENDE the number of days (quantum, durée).
	Duration *Duration `json:"duration,omitempty"`
	// SuspendedDuration is the suspended part of Duration (partie sursis, durée du sursis).
	SuspendedDuration *Duration `json:"suspendedDuration,omitempty"`
	// ProbationPeriod is the probation period of a sursis probatoire (délai d'épreuve).
	ProbationPeriod *Duration `json:"probationPeriod,omitempty"`
	// Hours are the hours of community service, 1 to 400 (heures de TIG); 0 means absent.
	Hours int `json:"hours,omitempty"`
	// AmountCents is the fine in euro cents (montant).
	AmountCents *int64 `json:"amountCents,omitempty"`
	// DailyAmountCents is the amount per day of a JOURS_AMENDE, in euro cents (montant journalier).
	DailyAmountCents *int64 `json:"dailyAmountCents,omitempty"`
	// Obligations are the obligations attached to the sentence (obligations).
	Obligations []Obligation `json:"obligations,omitzero"`
	// ObligationDetails is the court's wording of the obligations, free text; sensitive (précision des obligations).
	ObligationDetails string `json:"obligationDetails,omitempty"`
	// ProvisionalExecution tells the sentence is enforceable notwithstanding appeal (exécution provisoire).
	ProvisionalExecution *bool `json:"provisionalExecution,omitempty"`
	// CommittalOrdered tells committal was ordered at the hearing (mandat de dépôt).
	CommittalOrdered *bool `json:"committalOrdered,omitempty"`
	// ExecutionStartDate is when enforcement started (date de début d'exécution).
	ExecutionStartDate Date `json:"executionStartDate,omitempty"`
	// EndDate is when the sentence ends (date de fin de peine).
	EndDate Date `json:"endDate,omitempty"`
}

// MeasureKind is the kind of a sentence-enforcement measure (type de mesure).
type MeasureKind string

// The values of MeasureKind.
const (
	// MeasureSP is a suspended sentence with probation (sursis probatoire).
	MeasureSP MeasureKind = "SP"
	// MeasureTIG is community service (travail d'intérêt général).
	MeasureTIG MeasureKind = "TIG"
	// MeasureDDSE is home detention under electronic monitoring (détention à domicile sous surveillance électronique).
	MeasureDDSE MeasureKind = "DDSE"
	// MeasureSL is day release (semi-liberté).
	MeasureSL MeasureKind = "SL"
	// MeasurePE is outside placement (placement à l'extérieur).
	MeasurePE MeasureKind = "PE"
	// MeasureLC is parole (libération conditionnelle).
	MeasureLC MeasureKind = "LC"
	// MeasureLSC is supervised release at the end of a sentence (libération sous contrainte).
	MeasureLSC MeasureKind = "LSC"
	// MeasureSSJ is socio-judicial supervision (suivi socio-judiciaire).
	MeasureSSJ MeasureKind = "SSJ"
	// MeasureSME is the former suspended sentence with probation, before 2020 (sursis avec mise à l'épreuve).
	MeasureSME MeasureKind = "SME"
	// MeasureCJ is pre-trial judicial supervision mandated to the SPIP (contrôle judiciaire).
	MeasureCJ MeasureKind = "CJ"
	// MeasureAEM is a deferred sentence with probation (ajournement avec mise à l'épreuve).
	MeasureAEM MeasureKind = "AEM"
)
