package genesis

import (
	"strings"
	"time"
)

// TypeMouvement is the kind of a GENESIS movement.
type TypeMouvement string

// The movement types of the WSDL (a closed list: any other value is an invalid
// movement).
const (
	// MouvementEcrou is a committal (écrou): a new numéro d'écrou and a new fiche.
	MouvementEcrou TypeMouvement = "ECROU"
	// MouvementLeveeEcrou is a release from custody: the fiche gets DateLevee.
	MouvementLeveeEcrou TypeMouvement = "LEVEE_ECROU"
	// MouvementTransfert is a transfer: the origin fiche gets DateLevee and an ECROU
	// follows at CodeEtablissementDestination under NumeroEcrouDestination.
	MouvementTransfert TypeMouvement = "TRANSFERT"
	// MouvementMajFichePenale announces that the fiche changed (sentence, reduction, ...).
	MouvementMajFichePenale TypeMouvement = "MAJ_FICHE_PENALE"
)

// StatutDetenu is the custody status on a fiche.
type StatutDetenu string

// The statuses of the WSDL.
const (
	// StatutPrevenu is a person on remand, not finally judged.
	StatutPrevenu StatutDetenu = "PREVENU"
	// StatutCondamne is a person serving a final sentence.
	StatutCondamne StatutDetenu = "CONDAMNE"
	// StatutMixte is both at once (serving a sentence, on remand in another case).
	StatutMixte StatutDetenu = "MIXTE"
)

// Sexe is the sex on a fiche: "M" or "F".
type Sexe string

// The values of the WSDL's Sexe.
const (
	// SexeM is male.
	SexeM Sexe = "M"
	// SexeF is female.
	SexeF Sexe = "F"
)

// NaturePeine is the nature of a sentence.
type NaturePeine string

// The sentence natures of the WSDL.
const (
	// PeineEmprisonnement is a prison sentence for a délit.
	PeineEmprisonnement NaturePeine = "EMPRISONNEMENT"
	// PeineReclusionCriminelle is a prison sentence for a crime.
	PeineReclusionCriminelle NaturePeine = "RECLUSION_CRIMINELLE"
	// PeineDetentionCriminelle is the political-crime counterpart of réclusion.
	PeineDetentionCriminelle NaturePeine = "DETENTION_CRIMINELLE"
	// PeineContraintePenale is the community sentence abolished on 24 March 2020,
	// still found in running files.
	PeineContraintePenale NaturePeine = "CONTRAINTE_PENALE"
	// PeineRevocationSursis is the revocation of an earlier suspended sentence.
	PeineRevocationSursis NaturePeine = "REVOCATION_SURSIS"
)

// TypeReduction is the kind of a sentence reduction. The WSDL types it as a free
// string and names three values in a comment; the client passes any value through.
type TypeReduction string

// The reduction types the WSDL names.
const (
	// ReductionRP is a réduction de peine (adds days).
	ReductionRP TypeReduction = "RP"
	// ReductionRPS is a réduction de peine supplémentaire (adds days).
	ReductionRPS TypeReduction = "RPS"
	// ReductionRetrait withdraws reduction days (subtracts them).
	ReductionRetrait TypeReduction = "RETRAIT"
)

// Date is an xs:date as GENESIS sent it, "AAAA-MM-JJ", checked to be a real calendar
// day. A time zone suffix, which GENESIS does not send, is dropped. The empty Date is
// an absent optional date; a required date is never empty.
type Date string

// IsZero reports whether the date is absent.
func (d Date) IsZero() bool { return d == "" }

// Time returns the date at midnight UTC (the zero time for an absent date).
func (d Date) Time() time.Time {
	t, err := time.Parse(time.DateOnly, string(d))
	if err != nil {
		return time.Time{}
	}
	return t
}

// String returns the date as "AAAA-MM-JJ" ("" when absent).
func (d Date) String() string { return string(d) }

// Mouvement is one movement of GENESIS's feed. Optional strings are "" when absent
// (the generated decoding cannot tell an absent element from an empty one, and an
// empty one carries nothing).
type Mouvement struct {
	// Sequence is the movement's position in the feed; a repeated Sequence is a repeat
	// of the same movement, never a new fact.
	Sequence int64
	// NumeroEcrou and CodeEtablissement identify the fiche the movement concerns.
	NumeroEcrou       string
	CodeEtablissement string
	// Type is one of the four movement types.
	Type TypeMouvement
	// Horodatage is when the movement happened, with the offset GENESIS sent.
	Horodatage time.Time
	// CodeEtablissementDestination and NumeroEcrouDestination are set for TRANSFERT
	// (where they are required) and "" otherwise.
	CodeEtablissementDestination string
	NumeroEcrouDestination       string
	// Err is set when this movement breaks the WSDL (a required element missing, an
	// unknown type, an invalid timestamp): the other movements of the page are good,
	// and the page's dernierSequence still holds. Its text carries no personal data.
	Err error
}

// Identite is the identity on a fiche. Personal data: never log any of it.
type Identite struct {
	// Nom is the birth name.
	Nom string
	// NomUsage is the usage name, "" when absent.
	NomUsage string
	// Prenoms are the first names, space separated, the usual one first (see
	// ListePrenoms).
	Prenoms string
	// Sexe is "M" or "F".
	Sexe Sexe
	// DateNaissance is the birth date (always set).
	DateNaissance Date
	// LieuNaissance is the birth place, "" when absent.
	LieuNaissance string
	// Nationalite is an ISO 3166-1 alpha-3 code, "" when absent.
	Nationalite string
}

// ListePrenoms returns the first names in order (Prenoms split on spaces).
func (id Identite) ListePrenoms() []string { return strings.Fields(id.Prenoms) }

// Infraction is one offence of a conviction.
type Infraction struct {
	// CodeNatinf is the NATINF code (digits).
	CodeNatinf string
	// Libelle is the offence's label.
	Libelle string
	// DateFaits is when the offence was committed; zero when absent.
	DateFaits Date
}

// Quantum is a duration as the court pronounced it (never normalised: 18 months stays
// 18 months).
type Quantum struct {
	Annees int
	Mois   int
	Jours  int
}

// Peine is one sentence of a conviction.
type Peine struct {
	// Nature is one of the WSDL's sentence natures.
	Nature NaturePeine
	// Quantum is the sentence's length.
	Quantum Quantum
	// PartieSursis is the suspended part of the sentence; nil when absent, which is
	// not the same as a zero suspended part.
	PartieSursis *Quantum
	// DateDebutExecution and DateFinPeine are zero when absent.
	DateDebutExecution Date
	DateFinPeine       Date
}

// Condamnation is one conviction on a fiche.
type Condamnation struct {
	// ReferenceDecision is the decision's reference.
	ReferenceDecision string
	// Juridiction is the court's label (e.g. "TJ LYON").
	Juridiction string
	// DateDecision is the decision's date (always set).
	DateDecision Date
	// NatureDecision is JUGEMENT, ARRET or ORDONNANCE (a free string in the WSDL).
	NatureDecision string
	// NumeroParquet is the prosecution number (NPP), "" when absent.
	NumeroParquet string
	// Infractions are the offences (at least one).
	Infractions []Infraction
	// Peines are the sentences (at least one).
	Peines []Peine
}

// Reduction is one sentence reduction, or a withdrawal of reduction days.
type Reduction struct {
	// Type is RP, RPS or RETRAIT (passed through as sent).
	Type TypeReduction
	// Jours is the number of days (a RETRAIT's days count against the person).
	Jours int
	// DateDecision is the decision's date (always set).
	DateDecision Date
}

// FichePenale is a fiche pénale as GENESIS answered it: every element of the WSDL,
// with absent optional elements as zero values that cannot be mistaken for data (""
// dates, nil PartieSursis, empty slices). Personal data: never log it.
type FichePenale struct {
	// NumeroEcrou and CodeEtablissement identify the fiche (always the key asked for).
	NumeroEcrou       string
	CodeEtablissement string
	// LibelleEtablissement is the establishment's label (e.g. "CP LYON-CORBAS").
	LibelleEtablissement string
	// Version increases at every change of the fiche; two reads of one version are
	// identical.
	Version int64
	// Identite is the person's identity.
	Identite Identite
	// DateEcrou is the committal date (always set).
	DateEcrou Date
	// Statut is PREVENU, CONDAMNE or MIXTE.
	Statut StatutDetenu
	// Condamnations are the convictions, in GENESIS's order (none for a person on
	// remand).
	Condamnations []Condamnation
	// Reductions are the reductions and withdrawals, in GENESIS's order.
	Reductions []Reduction
	// FinPeriodeSurete, DateLiberationPrevisionnelle and DateLevee are zero when
	// absent; DateLevee is set once the écrou is closed (release or transfer).
	FinPeriodeSurete             Date
	DateLiberationPrevisionnelle Date
	DateLevee                    Date
	// Raw is the SOAP response exactly as received, for quarantine and replay (see
	// DecodeFichePenale). Personal data: never log it.
	Raw []byte
}
