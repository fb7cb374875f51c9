package sim

import (
	"encoding/xml"
	"slices"
	"time"
)

// Namespace is the target namespace of GENESIS's FichePenale service.
const Namespace = "urn:justice:genesis:fichepenale:v1"

// soapEnvNS is the SOAP 1.1 envelope namespace.
const soapEnvNS = "http://schemas.xmlsoap.org/soap/envelope/"

// TypeMouvement is the kind of a movement (WSDL simple type TypeMouvement).
type TypeMouvement string

// The movement types the WSDL names.
const (
	// Ecrou is a committal: a new écrou number at an establishment, a new fiche.
	Ecrou TypeMouvement = "ECROU"
	// LeveeEcrou is a release from custody: the fiche gets dateLevee.
	LeveeEcrou TypeMouvement = "LEVEE_ECROU"
	// Transfert moves the person to another establishment: the origin fiche gets
	// dateLevee and an ECROU follows at the destination with a new number.
	Transfert TypeMouvement = "TRANSFERT"
	// MajFichePenale announces a change of the fiche (new sentence, reduction, ...).
	MajFichePenale TypeMouvement = "MAJ_FICHE_PENALE"
)

// StatutDetenu is the person's status (WSDL simple type StatutDetenu).
type StatutDetenu string

// The statuses the WSDL names.
const (
	// Prevenu is a person on remand, not yet finally judged.
	Prevenu StatutDetenu = "PREVENU"
	// Condamne is a person serving a final sentence.
	Condamne StatutDetenu = "CONDAMNE"
	// Mixte is both: serving a sentence and on remand in another case.
	Mixte StatutDetenu = "MIXTE"
)

// The sentence natures the WSDL names (simple type NaturePeine).
const (
	// Emprisonnement is a prison sentence for a délit.
	Emprisonnement = "EMPRISONNEMENT"
	// ReclusionCriminelle is a prison sentence for a crime.
	ReclusionCriminelle = "RECLUSION_CRIMINELLE"
	// DetentionCriminelle is the political-crime counterpart of réclusion.
	DetentionCriminelle = "DETENTION_CRIMINELLE"
	// ContraintePenale is the former community sentence (before 24 March 2020).
	ContraintePenale = "CONTRAINTE_PENALE"
	// RevocationSursis is the revocation of an earlier suspended sentence.
	RevocationSursis = "REVOCATION_SURSIS"
)

// The reduction types GENESIS uses (Reduction.type).
const (
	// ReductionRP is a sentence reduction (réduction de peine).
	ReductionRP = "RP"
	// ReductionRPS is an additional reduction (réduction de peine supplémentaire).
	ReductionRPS = "RPS"
	// ReductionRetrait withdraws reduction days (negative effect).
	ReductionRetrait = "RETRAIT"
)

// Mouvement is one movement of the feed, in the WSDL's element order.
type Mouvement struct {
	Sequence          int64         `xml:"sequence"`
	NumeroEcrou       string        `xml:"numeroEcrou"`
	CodeEtablissement string        `xml:"codeEtablissement"`
	Type              TypeMouvement `xml:"type"`
	// Horodatage is written as xs:dateTime with its offset (RFC 3339).
	Horodatage time.Time `xml:"horodatage"`
	// CodeEtablissementDestination and NumeroEcrouDestination are for TRANSFERT only.
	CodeEtablissementDestination string `xml:"codeEtablissementDestination,omitempty"`
	NumeroEcrouDestination       string `xml:"numeroEcrouDestination,omitempty"`
}

// Identite is the person's identity on a fiche. Dates are "AAAA-MM-JJ"; an empty
// optional string is not written.
type Identite struct {
	Nom           string `xml:"nom"`
	NomUsage      string `xml:"nomUsage,omitempty"`
	Prenoms       string `xml:"prenoms"`
	Sexe          string `xml:"sexe"`
	DateNaissance string `xml:"dateNaissance"`
	LieuNaissance string `xml:"lieuNaissance,omitempty"`
	Nationalite   string `xml:"nationalite,omitempty"`
}

// Infraction is one offence of a conviction.
type Infraction struct {
	CodeNatinf string `xml:"codeNatinf"`
	Libelle    string `xml:"libelle"`
	DateFaits  string `xml:"dateFaits,omitempty"`
}

// Quantum is a duration as pronounced; every part is always written, 0 included.
type Quantum struct {
	Annees int `xml:"annees"`
	Mois   int `xml:"mois"`
	Jours  int `xml:"jours"`
}

// Peine is one sentence of a conviction.
type Peine struct {
	Nature             string   `xml:"nature"`
	Quantum            Quantum  `xml:"quantum"`
	PartieSursis       *Quantum `xml:"partieSursis,omitempty"`
	DateDebutExecution string   `xml:"dateDebutExecution,omitempty"`
	DateFinPeine       string   `xml:"dateFinPeine,omitempty"`
}

// Condamnation is one conviction on a fiche.
type Condamnation struct {
	ReferenceDecision string       `xml:"referenceDecision"`
	Juridiction       string       `xml:"juridiction"`
	DateDecision      string       `xml:"dateDecision"`
	NatureDecision    string       `xml:"natureDecision"`
	NumeroParquet     string       `xml:"numeroParquet,omitempty"`
	Infractions       []Infraction `xml:"infraction"`
	Peines            []Peine      `xml:"peine"`
}

// Reduction is one sentence reduction (or withdrawal) on a fiche.
type Reduction struct {
	Type         string `xml:"type"`
	Jours        int    `xml:"jours"`
	DateDecision string `xml:"dateDecision"`
}

// FichePenale is a fiche pénale as GENESIS serves it. Version is set by State: it
// increases at every change.
type FichePenale struct {
	NumeroEcrou                  string         `xml:"numeroEcrou"`
	CodeEtablissement            string         `xml:"codeEtablissement"`
	LibelleEtablissement         string         `xml:"libelleEtablissement"`
	Version                      int64          `xml:"version"`
	Identite                     Identite       `xml:"identite"`
	DateEcrou                    string         `xml:"dateEcrou"`
	Statut                       StatutDetenu   `xml:"statut"`
	Condamnations                []Condamnation `xml:"condamnation"`
	Reductions                   []Reduction    `xml:"reduction"`
	FinPeriodeSurete             string         `xml:"finPeriodeSurete,omitempty"`
	DateLiberationPrevisionnelle string         `xml:"dateLiberationPrevisionnelle,omitempty"`
	DateLevee                    string         `xml:"dateLevee,omitempty"`
}

// Clone returns a deep copy of f: State hands out copies, so that a caller changing
// one never changes what the simulator serves.
func (f FichePenale) Clone() FichePenale {
	c := f
	c.Condamnations = make([]Condamnation, len(f.Condamnations))
	for i, cd := range f.Condamnations {
		cd.Infractions = slices.Clone(cd.Infractions)
		peines := make([]Peine, len(cd.Peines))
		for j, p := range cd.Peines {
			if p.PartieSursis != nil {
				q := *p.PartieSursis
				p.PartieSursis = &q
			}
			peines[j] = p
		}
		cd.Peines = peines
		c.Condamnations[i] = cd
	}
	c.Reductions = slices.Clone(f.Reductions)
	if len(c.Condamnations) == 0 {
		c.Condamnations = nil
	}
	return c
}

// Etablissement is a prison establishment: its GENESIS code and its label.
type Etablissement struct {
	Code    string
	Libelle string
}

// The response payloads, in the GENESIS namespace; their children inherit it as the
// default namespace (elementFormDefault="qualified").
type listerMouvementsResponse struct {
	XMLName         xml.Name    `xml:"urn:justice:genesis:fichepenale:v1 ListerMouvementsResponse"`
	Mouvements      []Mouvement `xml:"mouvement"`
	DernierSequence int64       `xml:"dernierSequence"`
}

type consulterFichePenaleResponse struct {
	XMLName     xml.Name    `xml:"urn:justice:genesis:fichepenale:v1 ConsulterFichePenaleResponse"`
	FichePenale FichePenale `xml:"fichePenale"`
}

type ficheInconnueDetail struct {
	XMLName           xml.Name `xml:"urn:justice:genesis:fichepenale:v1 FicheInconnue"`
	NumeroEcrou       string   `xml:"numeroEcrou"`
	CodeEtablissement string   `xml:"codeEtablissement"`
}

type serviceIndisponibleDetail struct {
	XMLName xml.Name `xml:"urn:justice:genesis:fichepenale:v1 ServiceIndisponible"`
	Message string   `xml:"message"`
}
