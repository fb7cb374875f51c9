package prisme

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"passerelle/canonical"
	"passerelle/connectors"
)

// The mapper: pure functions from canonical payloads to the request bodies of PRISME's
// four write endpoints (openapi.yaml, components.schemas). Every struct below has the
// JSON names of its component schema exactly, and no field the schema does not name:
// PRISME refuses unknown fields (422, additionalProperties: false), so what the
// contract has no place for — a judgment's clerk, a sentence's mandat de dépôt, a
// measure's observations, a person's PRISME dossierId — is simply never sent.
//
// The payload a sink receives has already been reduced by its route's allow-list
// (pipeline/policy): any field may be missing. A body is built only from what is
// present; an optional field that is missing is left out; a field PRISME requires
// that is missing is a configuration error an operator must see, so the mapping fails
// with a permanent error (ErrMissingField) that names every such field by its PRISME
// path (never by its value).

// The paths of PRISME's write endpoints, as BodyFor returns them.
const (
	// PathFichesPenales receives a FichePenale.
	PathFichesPenales = "/api/v1/fiches-penales"
	// PathDecisions receives a Decision.
	PathDecisions = "/api/v1/decisions"
	// PathMesures receives a Mesure.
	PathMesures = "/api/v1/mesures"
	// PathEvenementsDetention receives an EvenementDetention.
	PathEvenementsDetention = "/api/v1/evenements-detention"
)

// The values of the contract's `source` constants.
const (
	sourceGenesis   = "GENESIS"
	sourceCassiopee = "CASSIOPEE"
	sourceAPPI      = "APPI"
)

// Sentinels of the mapper.
var (
	// ErrNotForPrisme: the message has no PRISME counterpart, so there is nothing to
	// send: a GENESIS MAJ_FICHE_PENALE movement (PRISME's custody events are ECROU,
	// LEVEE_ECROU and TRANSFERT only; the updated fiche itself travels as a penal record
	// to /fiches-penales), or a case transfer or report, which originate in PRISME.
	// It is not a failure: a sink answers "delivered, nothing to send" and records it,
	// never quarantines or retries it. It is deliberately not marked permanent.
	ErrNotForPrisme = errors.New("prisme: nothing to send: the message has no PRISME counterpart")
	// ErrMissingField: a field PRISME requires is missing from the payload, most likely
	// removed by the route's allow-list. Marked permanent: no retry brings it back; the
	// operator must fix the policy, then replay from quarantine.
	ErrMissingField = errors.New("prisme: required field missing")
	// ErrUnmappable: the message cannot be read as its canonical type (a nil message,
	// an unknown type, data that does not decode, a custody-event kind the contract
	// does not know). Marked permanent.
	ErrUnmappable = errors.New("prisme: message cannot be mapped")
)

// Duree is a duration as pronounced: never normalised (schema Duree).
type Duree struct {
	// Annees is the number of years.
	Annees int `json:"annees"`
	// Mois is the number of months.
	Mois int `json:"mois"`
	// Jours is the number of days.
	Jours int `json:"jours"`
}

// Identifiants are the person's identifiers in the partner systems (schema
// Personne.identifiants). PRISME's own dossierId is not among them: it is PRISME's
// answer, never a partner's input.
type Identifiants struct {
	// NumeroEcrou is the GENESIS committal number.
	NumeroEcrou string `json:"numeroEcrou,omitempty"`
	// CodeEtablissement is the establishment of that committal.
	CodeEtablissement string `json:"codeEtablissement,omitempty"`
	// NumeroDossierAppi is the person's APPI file number.
	NumeroDossierAppi string `json:"numeroDossierAppi,omitempty"`
	// NumerosParquet are the prosecution case numbers known for the person.
	NumerosParquet []string `json:"numerosParquet,omitempty"`
}

// Personne is the person an item is about (schema Personne). Adresse is sensitive.
type Personne struct {
	// Nom is the birth surname. Required.
	Nom string `json:"nom"`
	// NomUsage is the surname in use.
	NomUsage string `json:"nomUsage,omitempty"`
	// Prenoms are the first names in order, at least one. Required.
	Prenoms []string `json:"prenoms"`
	// Sexe is M or F.
	Sexe string `json:"sexe,omitempty"`
	// DateNaissance is the birth date, YYYY-MM-DD. Required.
	DateNaissance string `json:"dateNaissance"`
	// LieuNaissance is the place of birth.
	LieuNaissance string `json:"lieuNaissance,omitempty"`
	// Nationalite is an ISO 3166-1 alpha-3 code.
	Nationalite string `json:"nationalite,omitempty"`
	// Adresse is the postal address known by the court; sensitive.
	Adresse string `json:"adresse,omitempty"`
	// Identifiants are the person's identifiers. Required (may be empty).
	Identifiants Identifiants `json:"identifiants"`
}

// Infraction is an offence (schema Infraction).
type Infraction struct {
	// Natinf is the NATINF code. Required.
	Natinf string `json:"natinf"`
	// Libelle is the offence's label. Required.
	Libelle string `json:"libelle"`
	// DateFaits is when the offence was committed.
	DateFaits string `json:"dateFaits,omitempty"`
	// Qualification is CONTRAVENTION, DELIT or CRIME.
	Qualification string `json:"qualification,omitempty"`
}

// Peine is a sentence (schema Peine).
type Peine struct {
	// Nature is the kind of sentence. Required.
	Nature string `json:"nature"`
	// Duree is the quantum, or the number of days of a JOURS_AMENDE.
	Duree *Duree `json:"duree,omitempty"`
	// DureeSursis is the suspended part.
	DureeSursis *Duree `json:"dureeSursis,omitempty"`
	// DelaiEpreuve is the probation period.
	DelaiEpreuve *Duree `json:"delaiEpreuve,omitempty"`
	// Heures are TIG hours.
	Heures int `json:"heures,omitempty"`
	// MontantCentimes is a fine in euro cents.
	MontantCentimes *int64 `json:"montantCentimes,omitempty"`
	// MontantJournalierCentimes is a JOURS_AMENDE's amount per day in euro cents.
	MontantJournalierCentimes *int64 `json:"montantJournalierCentimes,omitempty"`
	// Obligations are the obligations; nil is left out, an empty list is sent empty.
	Obligations []string `json:"obligations,omitzero"`
	// PrecisionObligations is the court's wording of the obligations; sensitive.
	PrecisionObligations string `json:"precisionObligations,omitempty"`
	// DateDebutExecution is when enforcement started.
	DateDebutExecution string `json:"dateDebutExecution,omitempty"`
	// DateFin is when the sentence ends.
	DateFin string `json:"dateFin,omitempty"`
}

// Condamnation is a conviction on a penal record (schema FichePenale.condamnations[]).
type Condamnation struct {
	// ReferenceDecision is the decision's reference in GENESIS.
	ReferenceDecision string `json:"referenceDecision,omitempty"`
	// NatureDecision is JUGEMENT, ARRET or ORDONNANCE.
	NatureDecision string `json:"natureDecision,omitempty"`
	// Juridiction is the court's label. Required.
	Juridiction string `json:"juridiction"`
	// DateDecision is the date of the decision. Required.
	DateDecision string `json:"dateDecision"`
	// NumeroParquet is the prosecution case number.
	NumeroParquet string `json:"numeroParquet,omitempty"`
	// Infractions are the offences. Required (may be empty).
	Infractions []Infraction `json:"infractions"`
	// Peines are the sentences. Required (may be empty).
	Peines []Peine `json:"peines"`
}

// FichePenale is the body of POST /api/v1/fiches-penales (schema FichePenale).
type FichePenale struct {
	// Source is GENESIS.
	Source string `json:"source"`
	// Version is the GENESIS version of the record; PRISME keeps the highest.
	Version int64 `json:"version"`
	// Personne is the person in custody.
	Personne Personne `json:"personne"`
	// NumeroEcrou is the committal number.
	NumeroEcrou string `json:"numeroEcrou"`
	// CodeEtablissement is the establishment's code.
	CodeEtablissement string `json:"codeEtablissement"`
	// LibelleEtablissement is the establishment's name.
	LibelleEtablissement string `json:"libelleEtablissement,omitempty"`
	// DateEcrou is the date of committal.
	DateEcrou string `json:"dateEcrou"`
	// Statut is PREVENU, CONDAMNE or MIXTE.
	Statut string `json:"statut"`
	// Condamnations are the convictions, empty on remand.
	Condamnations []Condamnation `json:"condamnations"`
	// ReductionsJours is RP + RPS − RETRAIT days; absent when the record says nothing
	// of reductions (unknown is not zero).
	ReductionsJours *int `json:"reductionsJours,omitempty"`
	// FinPeriodeSurete is the end of the security period.
	FinPeriodeSurete string `json:"finPeriodeSurete,omitempty"`
	// DateLiberationPrevisionnelle is the projected release date.
	DateLiberationPrevisionnelle string `json:"dateLiberationPrevisionnelle,omitempty"`
	// DateLevee is the date the committal was lifted.
	DateLevee string `json:"dateLevee,omitempty"`
}

// JuridictionDecision is the court of a Decision (schema Decision.juridiction): its
// code and label, nothing else (the clerk is not sent).
type JuridictionDecision struct {
	// Code is the six-digit court code.
	Code string `json:"code"`
	// Libelle is the court's label.
	Libelle string `json:"libelle"`
}

// Decision is the body of POST /api/v1/decisions (schema Decision): one defendant's
// judgment.
type Decision struct {
	// Source is CASSIOPEE.
	Source string `json:"source"`
	// NumeroTransmission orders re-transmissions; PRISME keeps the highest.
	NumeroTransmission int64 `json:"numeroTransmission"`
	// Juridiction is the court.
	Juridiction JuridictionDecision `json:"juridiction"`
	// NumeroParquet is the prosecution case number.
	NumeroParquet string `json:"numeroParquet"`
	// NumeroJugement is the judgment's number.
	NumeroJugement string `json:"numeroJugement,omitempty"`
	// DateDecision is the date of the decision.
	DateDecision string `json:"dateDecision"`
	// ExecutoireLe is when the decision becomes enforceable.
	ExecutoireLe string `json:"executoireLe,omitempty"`
	// Nature is JUGEMENT, ARRET, ORDONNANCE_PENALE or CRPC.
	Nature string `json:"nature"`
	// Caractere is how the defendant stood before the court.
	Caractere string `json:"caractere,omitempty"`
	// Appel tells an appeal was lodged; absent when unknown.
	Appel *bool `json:"appel,omitempty"`
	// Personne is the defendant.
	Personne Personne `json:"personne"`
	// Infractions are the offences judged.
	Infractions []Infraction `json:"infractions"`
	// Peines are the sentences pronounced.
	Peines []Peine `json:"peines"`
}

// Mesure is the body of POST /api/v1/mesures (schema Mesure).
type Mesure struct {
	// Source is APPI.
	Source string `json:"source"`
	// Version is the APPI export seq of this state; PRISME keeps the highest.
	Version int64 `json:"version"`
	// NumeroMesure is the measure's number.
	NumeroMesure string `json:"numeroMesure"`
	// TypeMesure is the kind of measure.
	TypeMesure string `json:"typeMesure"`
	// Juridiction is the court's label.
	Juridiction string `json:"juridiction"`
	// Jap is the sentence-enforcement judge.
	Jap string `json:"jap,omitempty"`
	// SpipAntenne is the probation office in charge.
	SpipAntenne string `json:"spipAntenne,omitempty"`
	// DateDecision is the date of the decision.
	DateDecision string `json:"dateDecision"`
	// DateDebut is when the measure starts.
	DateDebut string `json:"dateDebut,omitempty"`
	// DateFin is when the measure ends.
	DateFin string `json:"dateFin,omitempty"`
	// Obligations are the measure's obligations; an empty list is sent empty.
	Obligations []string `json:"obligations,omitzero"`
	// Statut is the state of the measure.
	Statut string `json:"statut"`
	// Personne is the person under the measure.
	Personne Personne `json:"personne"`
}

// EvenementDetention is the body of POST /api/v1/evenements-detention (schema
// EvenementDetention): a committal, release or transfer.
type EvenementDetention struct {
	// Source is GENESIS.
	Source string `json:"source"`
	// SequenceGenesis is the movement's sequence: one event per sequence.
	SequenceGenesis int64 `json:"sequenceGenesis"`
	// Type is ECROU, LEVEE_ECROU or TRANSFERT.
	Type string `json:"type"`
	// Date is when the movement happened, RFC 3339 with its offset.
	Date string `json:"date"`
	// NumeroEcrou is the committal number.
	NumeroEcrou string `json:"numeroEcrou"`
	// CodeEtablissement is the establishment's code.
	CodeEtablissement string `json:"codeEtablissement"`
	// CodeEtablissementDestination is a transfer's destination establishment.
	CodeEtablissementDestination string `json:"codeEtablissementDestination,omitempty"`
	// NumeroEcrouDestination is a transfer's committal number at the destination.
	NumeroEcrouDestination string `json:"numeroEcrouDestination,omitempty"`
	// Personne is the person in custody.
	Personne Personne `json:"personne"`
}

// required collects the PRISME paths of required fields found missing.
type required struct {
	missing []string
}

// text returns v, noting path when it is empty.
func (r *required) text(path, v string) string {
	if v == "" {
		r.missing = append(r.missing, path)
	}
	return v
}

// present notes path when ok is false.
func (r *required) present(path string, ok bool) {
	if !ok {
		r.missing = append(r.missing, path)
	}
}

// err returns the permanent ErrMissingField error naming every missing field of the
// body of what, or nil.
func (r *required) err(what string) error {
	if len(r.missing) == 0 {
		return nil
	}
	return connectors.Permanent(fmt.Errorf("%w: %s: %s (removed by the route's policy? PRISME requires them)",
		ErrMissingField, what, strings.Join(r.missing, ", ")))
}

// FichePenaleOf maps a penal record to the body of POST /api/v1/fiches-penales:
// quantum → duree, partieSursis → dureeSursis, end date → dateFin, the repeated
// elements → the plural arrays, reductionsJours = RP + RPS − RETRAIT days (absent when
// the record carries no reductions field). The fiche's own numéro d'écrou and
// establishment complete personne.identifiants when the person carries neither: PRISME
// matches a person on personne only. Version is sent as it is (0 is a valid GENESIS
// version); BodyFor, which sees the message, tells a removed version from a zero one.
func FichePenaleOf(p *canonical.PenalRecord) (*FichePenale, error) {
	if p == nil {
		return nil, unmappable("penal record", "no payload")
	}
	var r required
	f := &FichePenale{
		Source:                       sourceGenesis,
		Version:                      p.Version,
		Personne:                     personneOf(&p.Person, "personne", &r),
		NumeroEcrou:                  r.text("numeroEcrou", p.CommittalNumber),
		CodeEtablissement:            r.text("codeEtablissement", p.EstablishmentCode),
		LibelleEtablissement:         p.EstablishmentName,
		DateEcrou:                    r.text("dateEcrou", string(p.CommittalDate)),
		Statut:                       r.text("statut", string(p.Status)),
		FinPeriodeSurete:             string(p.SecurityPeriodEnd),
		DateLiberationPrevisionnelle: string(p.ProjectedReleaseDate),
		DateLevee:                    string(p.ReleaseDate),
	}
	completeEcrou(&f.Personne.Identifiants, p.CommittalNumber, p.EstablishmentCode)
	r.present("condamnations", p.Convictions != nil)
	if p.Convictions != nil {
		f.Condamnations = make([]Condamnation, len(p.Convictions))
	}
	for i := range p.Convictions {
		c := &p.Convictions[i]
		at := "condamnations[" + strconv.Itoa(i) + "]"
		f.Condamnations[i] = Condamnation{
			ReferenceDecision: c.DecisionReference,
			NatureDecision:    string(c.DecisionKind),
			Juridiction:       r.text(at+".juridiction", c.Court),
			DateDecision:      r.text(at+".dateDecision", string(c.DecisionDate)),
			NumeroParquet:     c.ProsecutionNumber,
			Infractions:       infractionsOf(c.Offences, at+".infractions", &r),
			Peines:            peinesOf(c.Sentences, at+".peines", &r),
		}
	}
	if p.Reductions != nil {
		n := p.NetReductionDays()
		f.ReductionsJours = &n
	}
	if err := r.err("fiche pénale"); err != nil {
		return nil, err
	}
	return f, nil
}

// EvenementDetentionOf maps a GENESIS movement to the body of POST
// /api/v1/evenements-detention: sequence → sequenceGenesis, horodatage → date (RFC
// 3339, the source's offset kept), the movement's écrou completing
// personne.identifiants as for a fiche. A MAJ_FICHE_PENALE movement has no PRISME
// custody-event type: it answers ErrNotForPrisme (nothing to send; the updated fiche
// goes to /fiches-penales as a penal record).
func EvenementDetentionOf(e *canonical.CustodyEvent) (*EvenementDetention, error) {
	if e == nil {
		return nil, unmappable("custody event", "no payload")
	}
	switch e.Kind {
	case canonical.CustodyEventEcrou, canonical.CustodyEventLeveeEcrou, canonical.CustodyEventTransfert, "":
		// "" was removed by the policy: reported below with the other missing fields.
	case canonical.CustodyEventMajFichePenale:
		return nil, fmt.Errorf("custody event kind %s: %w", e.Kind, ErrNotForPrisme)
	default:
		return nil, unmappable("custody event", "a kind PRISME does not know")
	}
	var r required
	r.text("type", string(e.Kind))
	r.present("sequenceGenesis", e.Sequence > 0) // GENESIS sequences start at 1
	r.present("date", !e.OccurredAt.IsZero())
	ev := &EvenementDetention{
		Source:                       sourceGenesis,
		SequenceGenesis:              e.Sequence,
		Type:                         string(e.Kind),
		Date:                         e.OccurredAt.Format(time.RFC3339Nano),
		NumeroEcrou:                  r.text("numeroEcrou", e.CommittalNumber),
		CodeEtablissement:            r.text("codeEtablissement", e.EstablishmentCode),
		CodeEtablissementDestination: e.DestinationEstablishmentCode,
		NumeroEcrouDestination:       e.DestinationCommittalNumber,
		Personne:                     personneOf(&e.Person, "personne", &r),
	}
	completeEcrou(&ev.Personne.Identifiants, e.CommittalNumber, e.EstablishmentCode)
	if err := r.err("custody event"); err != nil {
		return nil, err
	}
	return ev, nil
}

// DecisionOf maps one defendant's judgment to the body of POST /api/v1/decisions. The
// court's clerk, and a sentence's mandat de dépôt and exécution provisoire, have no
// place in the contract and are not sent. The judgment's numéro parquet completes
// personne.identifiants.numerosParquet when the person carries none.
func DecisionOf(j *canonical.Judgment) (*Decision, error) {
	if j == nil {
		return nil, unmappable("judgment", "no payload")
	}
	var r required
	r.present("numeroTransmission", j.TransmissionNumber > 0) // Cassiopée numbers start at 1
	d := &Decision{
		Source:             sourceCassiopee,
		NumeroTransmission: j.TransmissionNumber,
		Juridiction: JuridictionDecision{
			Code:    r.text("juridiction.code", j.Court.Code),
			Libelle: r.text("juridiction.libelle", j.Court.Label),
		},
		NumeroParquet:  r.text("numeroParquet", j.ProsecutionNumber),
		NumeroJugement: j.JudgmentNumber,
		DateDecision:   r.text("dateDecision", string(j.DecisionDate)),
		ExecutoireLe:   string(j.EnforceableOn),
		Nature:         r.text("nature", string(j.Nature)),
		Caractere:      string(j.Character),
		Appel:          j.Appeal,
		Personne:       personneOf(&j.Person, "personne", &r),
		Infractions:    infractionsOf(j.Offences, "infractions", &r),
		Peines:         peinesOf(j.Sentences, "peines", &r),
	}
	if d.Personne.Identifiants.NumerosParquet == nil && j.ProsecutionNumber != "" {
		d.Personne.Identifiants.NumerosParquet = []string{j.ProsecutionNumber}
	}
	if err := r.err("decision"); err != nil {
		return nil, err
	}
	return d, nil
}

// MesureOf maps an APPI measure to the body of POST /api/v1/mesures: version (the
// APPI seq) → version, the obligations as an array, the JAP office's observations never
// (the contract has no field for them, and the policy denies them to everyone).
func MesureOf(m *canonical.Measure) (*Mesure, error) {
	if m == nil {
		return nil, unmappable("measure", "no payload")
	}
	var r required
	r.present("version", m.Version > 0) // APPI seqs start at 1
	out := &Mesure{
		Source:       sourceAPPI,
		Version:      m.Version,
		NumeroMesure: r.text("numeroMesure", m.MeasureNumber),
		TypeMesure:   r.text("typeMesure", string(m.Kind)),
		Juridiction:  r.text("juridiction", m.Court),
		Jap:          m.Judge,
		SpipAntenne:  m.SPIPOffice,
		DateDecision: r.text("dateDecision", string(m.DecisionDate)),
		DateDebut:    string(m.StartDate),
		DateFin:      string(m.EndDate),
		Obligations:  obligationsOf(m.Obligations),
		Statut:       r.text("statut", string(m.Status)),
		Personne:     personneOf(&m.Person, "personne", &r),
	}
	if err := r.err("measure"); err != nil {
		return nil, err
	}
	return out, nil
}

// penalRecordData decodes a penal record telling a missing version from version 0:
// the outer Version shadows the embedded one for encoding/json.
type penalRecordData struct {
	canonical.PenalRecord
	Version *int64 `json:"version"`
}

// BodyFor returns the PRISME endpoint path and request body of a canonical message,
// by its type: a penal record goes to PathFichesPenales as a FichePenale, a custody
// event to PathEvenementsDetention, a judgment to PathDecisions, a measure to
// PathMesures. A case transfer or a report (they come from PRISME), and a
// MAJ_FICHE_PENALE custody event, answer ErrNotForPrisme: nothing to send. Data that
// does not decode strictly as its type, or an unknown type, is a permanent
// ErrUnmappable; a required field missing is a permanent ErrMissingField.
func BodyFor(m *canonical.Message) (endpoint string, body any, err error) {
	if m == nil {
		return "", nil, unmappable("message", "no message")
	}
	switch m.Type {
	case canonical.TypePenalRecord:
		var p penalRecordData
		if err := m.DecodeData(&p); err != nil {
			return "", nil, unmappableErr(m.Type, err)
		}
		if p.Version == nil {
			return "", nil, connectors.Permanent(fmt.Errorf("%w: fiche pénale: version (removed by the route's policy? PRISME requires it)", ErrMissingField))
		}
		p.PenalRecord.Version = *p.Version
		f, err := FichePenaleOf(&p.PenalRecord)
		return result(PathFichesPenales, f, err)
	case canonical.TypeCustodyEvent:
		var e canonical.CustodyEvent
		if err := m.DecodeData(&e); err != nil {
			return "", nil, unmappableErr(m.Type, err)
		}
		ev, err := EvenementDetentionOf(&e)
		return result(PathEvenementsDetention, ev, err)
	case canonical.TypeJudgment:
		var j canonical.Judgment
		if err := m.DecodeData(&j); err != nil {
			return "", nil, unmappableErr(m.Type, err)
		}
		d, err := DecisionOf(&j)
		return result(PathDecisions, d, err)
	case canonical.TypeMeasure:
		var ms canonical.Measure
		if err := m.DecodeData(&ms); err != nil {
			return "", nil, unmappableErr(m.Type, err)
		}
		out, err := MesureOf(&ms)
		return result(PathMesures, out, err)
	case canonical.TypeCaseTransfer, canonical.TypeReport:
		return "", nil, fmt.Errorf("%s comes from PRISME: %w", m.Type, ErrNotForPrisme)
	}
	return "", nil, connectors.Permanent(fmt.Errorf("%w: %w", ErrUnmappable, canonical.ErrUnknownType))
}

// result returns a body with its endpoint, or the error without either (a nil body
// pointer would otherwise travel as a non-nil any).
func result[T any](endpoint string, body *T, err error) (string, any, error) {
	if err != nil {
		return "", nil, err
	}
	return endpoint, body, nil
}

// unmappable makes a permanent ErrUnmappable error.
func unmappable(what, why string) error {
	return connectors.Permanent(fmt.Errorf("%w: %s: %s", ErrUnmappable, what, why))
}

// unmappableErr makes a permanent ErrUnmappable error from a decoding error (whose
// text names fields and types, never values: canonical's strict decoding).
func unmappableErr(typ string, err error) error {
	return connectors.Permanent(fmt.Errorf("%w: %s: %w", ErrUnmappable, typ, err))
}

// personneOf maps a person; its required fields are checked under path. The PRISME
// dossierId (prismeFileId) is not sent: it is PRISME's own answer.
func personneOf(p *canonical.Person, path string, r *required) Personne {
	r.text(path+".nom", p.LastName)
	r.present(path+".prenoms", len(p.FirstNames) > 0)
	r.text(path+".dateNaissance", string(p.BirthDate))
	out := Personne{
		Nom:           p.LastName,
		NomUsage:      p.UsageName,
		Prenoms:       p.FirstNames,
		Sexe:          string(p.Sex),
		DateNaissance: string(p.BirthDate),
		LieuNaissance: p.BirthPlace,
		Nationalite:   p.Nationality,
		Adresse:       p.Address,
		Identifiants: Identifiants{
			NumeroEcrou:       p.Identifiers.CommittalNumber,
			CodeEtablissement: p.Identifiers.EstablishmentCode,
			NumeroDossierAppi: p.Identifiers.AppiFileNumber,
			NumerosParquet:    p.Identifiers.ProsecutionNumbers,
		},
	}
	if out.Prenoms == nil {
		out.Prenoms = []string{} // PRISME requires the key; the error above says why it is empty
	}
	return out
}

// completeEcrou fills the person's écrou pair from the fact's own when the person
// carries neither half: a pair is never mixed from two sources.
func completeEcrou(id *Identifiants, numeroEcrou, codeEtablissement string) {
	if id.NumeroEcrou == "" && id.CodeEtablissement == "" {
		id.NumeroEcrou, id.CodeEtablissement = numeroEcrou, codeEtablissement
	}
}

// infractionsOf maps offences; nil (removed) is a missing required array.
func infractionsOf(offences []canonical.Offence, path string, r *required) []Infraction {
	r.present(path, offences != nil)
	out := make([]Infraction, len(offences))
	for i, o := range offences {
		at := path + "[" + strconv.Itoa(i) + "]"
		out[i] = Infraction{
			Natinf:        r.text(at+".natinf", o.Natinf),
			Libelle:       r.text(at+".libelle", o.Label),
			DateFaits:     string(o.OffenceDate),
			Qualification: string(o.Classification),
		}
	}
	return out
}

// peinesOf maps sentences; nil (removed) is a missing required array.
func peinesOf(sentences []canonical.Sentence, path string, r *required) []Peine {
	r.present(path, sentences != nil)
	out := make([]Peine, len(sentences))
	for i := range sentences {
		s := &sentences[i]
		out[i] = Peine{
			Nature:                    r.text(path+"["+strconv.Itoa(i)+"].nature", string(s.Kind)),
			Duree:                     dureeOf(s.Duration),
			DureeSursis:               dureeOf(s.SuspendedDuration),
			DelaiEpreuve:              dureeOf(s.ProbationPeriod),
			Heures:                    s.Hours,
			MontantCentimes:           s.AmountCents,
			MontantJournalierCentimes: s.DailyAmountCents,
			Obligations:               obligationsOf(s.Obligations),
			PrecisionObligations:      s.ObligationDetails,
			DateDebutExecution:        string(s.ExecutionStartDate),
			DateFin:                   string(s.EndDate),
		}
	}
	return out
}

// dureeOf maps a duration as it is: never normalised.
func dureeOf(d *canonical.Duration) *Duree {
	if d == nil {
		return nil
	}
	return &Duree{Annees: d.Years, Mois: d.Months, Jours: d.Days}
}

// obligationsOf maps obligations, keeping nil (absent) apart from empty.
func obligationsOf(obl []canonical.Obligation) []string {
	if obl == nil {
		return nil
	}
	out := make([]string, len(obl))
	for i, o := range obl {
		out[i] = string(o)
	}
	return out
}
