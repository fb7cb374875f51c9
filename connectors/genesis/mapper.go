package genesis

import (
	"fmt"
	"time"

	"passerelle/canonical"
)

// EventSource is the CloudEvents source of the messages this connector produces.
const EventSource = "/connectors/genesis"

// The mapping of contracts/README.md ("Mapping rules"), from what the Client returns to
// the canonical model (docs/canonical-model.md), as pure functions: no I/O, no clock,
// no validation (the pipeline validates every message against its schema, so a value
// GENESIS sends outside the canonical rules — a NATINF code with letters, a
// natureDecision outside JUGEMENT/ARRET/ORDONNANCE — is carried as it is and refused
// there with the field's pointer, never silently changed here).
//
// Every element of the WSDL has its place; nothing is dropped:
//
//	FichePenale.numeroEcrou, codeEtablissement    → committalNumber, establishmentCode, and the person's identifiers
//	libelleEtablissement                          → establishmentName
//	version                                       → version (and the message's factversion)
//	identite.nom, nomUsage                        → person.lastName, usageName
//	identite.prenoms (space separated)            → person.firstNames, in order
//	identite.sexe, dateNaissance                  → person.sex, birthDate
//	identite.lieuNaissance, nationalite           → person.birthPlace, nationality
//	dateEcrou, statut                             → committalDate, status
//	condamnation (repeated)                       → convictions
//	  referenceDecision, juridiction              →   decisionReference, court
//	  dateDecision, natureDecision                →   decisionDate, decisionKind
//	  numeroParquet                               →   prosecutionNumber, and person.identifiers.prosecutionNumbers
//	  infraction (repeated)                       →   offences: codeNatinf → natinf, libelle → label, dateFaits → offenceDate
//	  peine (repeated)                            →   sentences: nature → kind, quantum → duration,
//	                                              →     partieSursis → suspendedDuration,
//	                                              →     dateDebutExecution → executionStartDate, dateFinPeine → endDate
//	reduction (repeated)                          → reductions: type (RP, RPS, RETRAIT, kept raw), jours → days, dateDecision
//	finPeriodeSurete                              → securityPeriodEnd
//	dateLiberationPrevisionnelle                  → projectedReleaseDate
//	dateLevee                                     → releaseDate
//	Mouvement.sequence, type, horodatage          → CustodyEvent.sequence, kind, occurredAt (offset kept)
//	numeroEcrou, codeEtablissement                → committalNumber, establishmentCode
//	codeEtablissementDestination                  → destinationEstablishmentCode
//	numeroEcrouDestination                        → destinationCommittalNumber
//
// Durations are copied part for part, never normalised (18 months stay 18 months);
// reductions are kept one by one (PRISME's net reductionsJours is computed at delivery,
// canonical.PenalRecord.NetReductionDays).

// PenalRecordOf maps a fiche pénale to the canonical penal record.
func PenalRecordOf(f *FichePenale) canonical.PenalRecord {
	p := canonical.PenalRecord{
		CommittalNumber:      f.NumeroEcrou,
		EstablishmentCode:    f.CodeEtablissement,
		EstablishmentName:    f.LibelleEtablissement,
		Version:              f.Version,
		Person:               PersonOf(f),
		CommittalDate:        canonical.Date(f.DateEcrou),
		Status:               canonical.CustodyStatus(f.Statut),
		Convictions:          make([]canonical.Conviction, 0, len(f.Condamnations)),
		SecurityPeriodEnd:    canonical.Date(f.FinPeriodeSurete),
		ProjectedReleaseDate: canonical.Date(f.DateLiberationPrevisionnelle),
		ReleaseDate:          canonical.Date(f.DateLevee),
	}
	for i := range f.Condamnations {
		p.Convictions = append(p.Convictions, convictionOf(&f.Condamnations[i]))
	}
	if len(f.Reductions) > 0 {
		p.Reductions = make([]canonical.Reduction, len(f.Reductions))
		for i, r := range f.Reductions {
			p.Reductions[i] = canonical.Reduction{
				Type:         canonical.ReductionType(r.Type),
				Days:         r.Jours,
				DecisionDate: canonical.Date(r.DateDecision),
			}
		}
	}
	return p
}

// PersonOf maps the identity on a fiche to the canonical person: first names split on
// white space in their order, the fiche's écrou as the person's GENESIS identifiers,
// and the numéros parquet of its convictions, each once, in the order of the
// convictions, as prosecutionNumbers.
func PersonOf(f *FichePenale) canonical.Person {
	id := f.Identite
	p := canonical.Person{
		LastName:    id.Nom,
		UsageName:   id.NomUsage,
		FirstNames:  id.ListePrenoms(),
		Sex:         canonical.Sex(id.Sexe),
		BirthDate:   canonical.Date(id.DateNaissance),
		BirthPlace:  id.LieuNaissance,
		Nationality: id.Nationalite,
		Identifiers: canonical.Identifiers{
			CommittalNumber:   f.NumeroEcrou,
			EstablishmentCode: f.CodeEtablissement,
		},
	}
	for _, c := range f.Condamnations {
		if c.NumeroParquet == "" {
			continue
		}
		seen := false
		for _, n := range p.Identifiers.ProsecutionNumbers {
			seen = seen || n == c.NumeroParquet
		}
		if !seen {
			p.Identifiers.ProsecutionNumbers = append(p.Identifiers.ProsecutionNumbers, c.NumeroParquet)
		}
	}
	return p
}

// convictionOf maps one condamnation.
func convictionOf(c *Condamnation) canonical.Conviction {
	out := canonical.Conviction{
		DecisionReference: c.ReferenceDecision,
		Court:             c.Juridiction,
		DecisionDate:      canonical.Date(c.DateDecision),
		DecisionKind:      canonical.DecisionKind(c.NatureDecision),
		ProsecutionNumber: c.NumeroParquet,
		Offences:          make([]canonical.Offence, len(c.Infractions)),
		Sentences:         make([]canonical.Sentence, len(c.Peines)),
	}
	for i, inf := range c.Infractions {
		out.Offences[i] = canonical.Offence{
			Natinf:      inf.CodeNatinf,
			Label:       inf.Libelle,
			OffenceDate: canonical.Date(inf.DateFaits),
		}
	}
	for i, p := range c.Peines {
		s := canonical.Sentence{
			Kind:               canonical.SentenceKind(p.Nature),
			Duration:           durationOf(p.Quantum),
			ExecutionStartDate: canonical.Date(p.DateDebutExecution),
			EndDate:            canonical.Date(p.DateFinPeine),
		}
		if p.PartieSursis != nil {
			s.SuspendedDuration = durationOf(*p.PartieSursis)
		}
		out.Sentences[i] = s
	}
	return out
}

// durationOf copies a quantum part for part.
func durationOf(q Quantum) *canonical.Duration {
	return &canonical.Duration{Years: q.Annees, Months: q.Mois, Days: q.Jours}
}

// CustodyEventOf maps a movement, joined with the fiche it announces (whose person it
// carries), to the canonical custody event. A TRANSFERT carries its destination: the
// same person under a new écrou there (see the package doc on identity).
func CustodyEventOf(m *Mouvement, f *FichePenale) canonical.CustodyEvent {
	return canonical.CustodyEvent{
		Sequence:                     m.Sequence,
		Kind:                         canonical.CustodyEventKind(m.Type),
		OccurredAt:                   m.Horodatage,
		CommittalNumber:              m.NumeroEcrou,
		EstablishmentCode:            m.CodeEtablissement,
		DestinationEstablishmentCode: m.CodeEtablissementDestination,
		DestinationCommittalNumber:   m.NumeroEcrouDestination,
		Person:                       PersonOf(f),
	}
}

// FicheFact is the fact identity of a fiche in its version:
// fiche/<numeroEcrou>/<codeEtablissement>, version the fiche's version.
func FicheFact(f *FichePenale) canonical.FactID {
	return canonical.FactID{System: canonical.SystemGenesis,
		Ref: canonical.GenesisFicheRef(f.NumeroEcrou, f.CodeEtablissement), Version: f.Version}
}

// MovementFact is the fact identity of a movement: mouvement/<sequence>, version the
// sequence.
func MovementFact(seq int64) canonical.FactID {
	return canonical.FactID{System: canonical.SystemGenesis, Ref: canonical.GenesisMovementRef(seq), Version: seq}
}

// PenalRecordMessage wraps the penal record of f in a canonical message whose fact is
// the fiche in its version, read at readAt (the fiche carries no timestamp of its own:
// its state is the one GENESIS answered then). The subject is left empty for the
// pipeline to resolve from the person's identifiers.
func PenalRecordMessage(f *FichePenale, readAt time.Time) (*canonical.Message, error) {
	p := PenalRecordOf(f)
	m, err := canonical.NewMessage(canonical.TypePenalRecord, EventSource, "", FicheFact(f), readAt, &p)
	if err != nil {
		return nil, fmt.Errorf("genesis: map fiche version %d: %w", f.Version, err)
	}
	return m, nil
}

// CustodyEventMessage wraps the custody event of movement m joined with fiche f in a
// canonical message whose fact is the movement (its sequence is also its version) and
// whose time is the movement's horodatage.
func CustodyEventMessage(m *Mouvement, f *FichePenale) (*canonical.Message, error) {
	e := CustodyEventOf(m, f)
	msg, err := canonical.NewMessage(canonical.TypeCustodyEvent, EventSource, "", MovementFact(m.Sequence), m.Horodatage, &e)
	if err != nil {
		return nil, fmt.Errorf("genesis: map movement %d: %w", m.Sequence, err)
	}
	return msg, nil
}
