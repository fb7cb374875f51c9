package cassiopee

import "passerelle/canonical"

// The Go form of a transmitted decision, field for field as the contract names them
// (decision.schema.json, format d'export v3). Values are kept as the clerk wrote them —
// dates JJ/MM/AAAA, durations 2A6M15J, amounts 1500,00 — and converted by ToJudgments,
// so that a Decision is a faithful record of what was received. An empty string is an
// absent field; Decode never fills a field the contract does not name, so unknown fields
// the clerk's workstation may send are dropped here.

// Decision is one transmission of a criminal judgment by a court clerk (décision pénale
// transmise): the court, the judgment, and one entry per defendant.
type Decision struct {
	// VersionFormat is the export format, "3".
	VersionFormat string `json:"versionFormat"`
	// NumeroTransmission increases at every re-transmission of the same decision; the
	// latest replaces the earlier ones.
	NumeroTransmission int64 `json:"numeroTransmission"`
	// Juridiction is the court that decided.
	Juridiction Juridiction `json:"juridiction"`
	// Jugement is the contract's "decision" object: the judgment itself.
	Jugement Jugement `json:"decision"`
	// Prevenus are the defendants, at least one: each becomes one canonical judgment.
	Prevenus []Prevenu `json:"prevenus"`
}

// Juridiction is the court that decided (juridiction).
type Juridiction struct {
	// Code is the six-digit court code (code juridiction).
	Code string `json:"code"`
	// Libelle is the court's label, e.g. TJ LYON (libellé).
	Libelle string `json:"libelle"`
	// Greffier is the clerk or clerk's office that transmitted (greffier).
	Greffier string `json:"greffier,omitempty"`
}

// Jugement is the judgment: its numbers, date, nature and character.
type Jugement struct {
	// NumeroParquet is the prosecution case number, NPP (numéro parquet).
	NumeroParquet string `json:"numeroParquet"`
	// NumeroJugement is the judgment's number (numéro de jugement).
	NumeroJugement string `json:"numeroJugement,omitempty"`
	// DateDecision is the date of the decision, JJ/MM/AAAA.
	DateDecision string `json:"dateDecision"`
	// Nature is JUGEMENT, ARRET, ORDONNANCE_PENALE or CRPC.
	Nature string `json:"nature"`
	// Caractere is CONTRADICTOIRE, CONTRADICTOIRE_A_SIGNIFIER, DEFAUT or ITERATIF_DEFAUT.
	Caractere string `json:"caractere"`
	// ExecutoireLe is the date the decision becomes enforceable, JJ/MM/AAAA.
	ExecutoireLe string `json:"executoireLe,omitempty"`
	// Appel tells an appeal was lodged; nil when the clerk did not say.
	Appel *bool `json:"appel,omitempty"`
}

// Prevenu is one defendant and what the court decided for them (prévenu).
type Prevenu struct {
	// Identite is the defendant's civil identity.
	Identite Identite `json:"identite"`
	// NumeroEcrou is the committal number, present when the person is in custody.
	NumeroEcrou string `json:"numeroEcrou,omitempty"`
	// Infractions are the offences judged, at least one.
	Infractions []Infraction `json:"infractions"`
	// Peines are the sentences pronounced, at least one.
	Peines []Peine `json:"peines"`
}

// Identite is a defendant's civil identity (identité). Adresse is sensitive: it goes
// to PRISME only, never into logs.
type Identite struct {
	// Nom is the birth surname.
	Nom string `json:"nom"`
	// NomUsage is the surname in use.
	NomUsage string `json:"nomUsage,omitempty"`
	// Prenoms are the first names in civil-status order.
	Prenoms []string `json:"prenoms"`
	// Sexe is M or F.
	Sexe string `json:"sexe,omitempty"`
	// DateNaissance is the date of birth, JJ/MM/AAAA.
	DateNaissance string `json:"dateNaissance"`
	// LieuNaissance is the place of birth, free text.
	LieuNaissance string `json:"lieuNaissance,omitempty"`
	// Nationalite is the nationality as the clerk typed it, free text.
	Nationalite string `json:"nationalite,omitempty"`
	// Adresse is the postal address, free text; sensitive.
	Adresse string `json:"adresse,omitempty"`
}

// Infraction is an offence judged (infraction).
type Infraction struct {
	// Natinf is the NATINF code, 1 to 6 digits.
	Natinf string `json:"natinf"`
	// Libelle is the offence's label.
	Libelle string `json:"libelle"`
	// DateFaits is when the offence was committed, JJ/MM/AAAA.
	DateFaits string `json:"dateFaits,omitempty"`
	// Qualification is CONTRAVENTION, DELIT or CRIME.
	Qualification string `json:"qualification,omitempty"`
}

// Peine is a sentence pronounced (peine). PrecisionObligations is sensitive (it may
// name victims or health matters): it goes to PRISME only, never into logs.
type Peine struct {
	// Code is the Cassiopée sentence code (EMP, EMP_SURSIS, ... see the Code constants).
	Code string `json:"code"`
	// Duree is the quantum, DDSE or SSJ length, or the number of days of JOURS_AMENDE, like 2A6M15J.
	Duree string `json:"duree,omitempty"`
	// DureeSursis is the suspended part of Duree, like 6M.
	DureeSursis string `json:"dureeSursis,omitempty"`
	// DelaiEpreuve is the probation period of a sursis probatoire, like 2A.
	DelaiEpreuve string `json:"delaiEpreuve,omitempty"`
	// Heures are the TIG hours, 1 to 400; 0 when absent.
	Heures int `json:"heures,omitempty"`
	// Montant is the fine in euros like 1500,00; for JOURS_AMENDE the amount per day.
	Montant string `json:"montant,omitempty"`
	// Obligations are the obligations imposed; nil when absent, empty when sent empty.
	Obligations []string `json:"obligations,omitzero"`
	// PrecisionObligations is the court's wording of the obligations, free text; sensitive.
	PrecisionObligations string `json:"precisionObligations,omitempty"`
	// ExecutionProvisoire tells the sentence is enforceable notwithstanding appeal.
	ExecutionProvisoire *bool `json:"executionProvisoire,omitempty"`
	// MandatDepot tells committal was ordered at the hearing.
	MandatDepot *bool `json:"mandatDepot,omitempty"`
}

// The Cassiopée sentence codes (Peine.Code).
const (
	// CodeEMP is imprisonment (emprisonnement ferme).
	CodeEMP = "EMP"
	// CodeEMPSursis is a simple suspended sentence (sursis simple).
	CodeEMPSursis = "EMP_SURSIS"
	// CodeEMPSursisProbatoire is a suspended sentence with probation (sursis probatoire).
	CodeEMPSursisProbatoire = "EMP_SURSIS_PROBATOIRE"
	// CodeTIG is community service (travail d'intérêt général).
	CodeTIG = "TIG"
	// CodeDDSE is home detention under electronic monitoring.
	CodeDDSE = "DDSE"
	// CodeAmende is a fine (amende).
	CodeAmende = "AMENDE"
	// CodeJoursAmende is a day-fine (jours-amende): Montant per day, Duree the days.
	CodeJoursAmende = "JOURS_AMENDE"
	// CodeStage is a compulsory course (stage).
	CodeStage = "STAGE"
	// CodeSSJ is socio-judicial supervision (suivi socio-judiciaire).
	CodeSSJ = "SSJ"
	// CodeInterdiction is a prohibition, a complementary sentence (interdiction).
	CodeInterdiction = "INTERDICTION"
	// CodeConfiscation is a confiscation.
	CodeConfiscation = "CONFISCATION"
)

// sentenceKinds maps each Cassiopée code to its canonical sentence kind
// (contracts/README.md, "Peine codes"): four are renamed, the others keep their name.
var sentenceKinds = map[string]canonical.SentenceKind{
	CodeEMP:                 canonical.SentenceEmprisonnement,
	CodeEMPSursis:           canonical.SentenceEmprisonnementSursis,
	CodeEMPSursisProbatoire: canonical.SentenceSursisProbatoire,
	CodeSSJ:                 canonical.SentenceSuiviSocioJudiciaire,
	CodeTIG:                 canonical.SentenceTIG,
	CodeDDSE:                canonical.SentenceDDSE,
	CodeAmende:              canonical.SentenceAmende,
	CodeJoursAmende:         canonical.SentenceJoursAmende,
	CodeStage:               canonical.SentenceStage,
	CodeInterdiction:        canonical.SentenceInterdiction,
	CodeConfiscation:        canonical.SentenceConfiscation,
}

// SentenceKind returns the canonical sentence kind of a Cassiopée code: EMP is
// EMPRISONNEMENT, EMP_SURSIS EMPRISONNEMENT_SURSIS, EMP_SURSIS_PROBATOIRE
// SURSIS_PROBATOIRE, SSJ SUIVI_SOCIO_JUDICIAIRE, the others keep their name; false for
// a code the contract does not list.
func SentenceKind(code string) (canonical.SentenceKind, bool) {
	k, ok := sentenceKinds[code]
	return k, ok
}
