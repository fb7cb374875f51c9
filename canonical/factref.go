package canonical

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// The fact references of docs/canonical-model.md ("Fact identity"). Each system's
// connector builds its factref with these helpers, so that a retry, a replay or a
// restart derives the same idempotency key.

// GenesisFicheRef returns the reference of a GENESIS penal record:
// fiche/<numeroEcrou>/<codeEtablissement>. Its version is the fiche's version.
func GenesisFicheRef(numeroEcrou, codeEtablissement string) string {
	return "fiche/" + numeroEcrou + "/" + codeEtablissement
}

// GenesisMovementRef returns the reference of a GENESIS movement (custody event):
// mouvement/<sequence>. Its version is the same sequence.
func GenesisMovementRef(seq int64) string {
	return "mouvement/" + strconv.FormatInt(seq, 10)
}

// CassiopeeDecisionRef returns the reference of a Cassiopée decision for one
// defendant: decision/<numeroParquet>/<person key>. The person key is
// NOM|PRÉNOMS|JJMMAAAA upper-cased — runs of white space in each part made one space,
// first names joined by one space in their order, the birth date as day, month, year —
// hashed with SHA-256 and kept as its first 16 hex digits, so that no name travels in a
// key. Co-defendants share the numéro parquet; the person key tells them apart. Its
// version is the numéro de transmission. A birth date that is not YYYY-MM-DD is hashed
// as given (such a judgment fails validation anyway).
func CassiopeeDecisionRef(numeroParquet string, lastName string, firstNames []string, birthDate Date) string {
	return "decision/" + numeroParquet + "/" + personKeyHash(lastName, firstNames, birthDate)
}

// APPIMeasureRef returns the reference of an APPI measure: mesure/<numero_mesure>. Its
// version is the export row's seq.
func APPIMeasureRef(numeroMesure string) string {
	return "mesure/" + numeroMesure
}

// PrismeEventRef returns the reference of a PRISME outgoing event: evenement/<id>. Its
// version is always 0: a PRISME event never changes.
func PrismeEventRef(id string) string {
	return "evenement/" + id
}

// personKeyHash returns the first 16 hex digits of the SHA-256 of NOM|PRÉNOMS|JJMMAAAA.
func personKeyHash(lastName string, firstNames []string, birthDate Date) string {
	names := make([]string, 0, len(firstNames))
	for _, f := range firstNames {
		if f = strings.Join(strings.Fields(f), " "); f != "" {
			names = append(names, f)
		}
	}
	d := string(birthDate)
	if len(d) == 10 && d[4] == '-' && d[7] == '-' {
		d = d[8:10] + d[5:7] + d[0:4]
	}
	key := strings.ToUpper(strings.Join(strings.Fields(lastName), " ") + "|" + strings.Join(names, " ") + "|" + d)
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// FactOf returns the fact identity a canonical payload (value or pointer) has at its
// source, by the table of docs/canonical-model.md: a penal record is GENESIS's fiche
// in its version, a custody event GENESIS's movement, a judgment Cassiopée's decision
// for that person in its transmission, a measure APPI's measure in its seq, a case
// transfer or a report PRISME's event in version 0. Any other value is ErrNoFact.
func FactOf(data any) (FactID, error) {
	switch d := data.(type) {
	case PenalRecord:
		data = &d
	case CustodyEvent:
		data = &d
	case Judgment:
		data = &d
	case Measure:
		data = &d
	case CaseTransfer:
		data = &d
	case Report:
		data = &d
	}
	switch d := data.(type) {
	case *PenalRecord:
		if d != nil {
			return FactID{System: SystemGenesis, Ref: GenesisFicheRef(d.CommittalNumber, d.EstablishmentCode), Version: d.Version}, nil
		}
	case *CustodyEvent:
		if d != nil {
			return FactID{System: SystemGenesis, Ref: GenesisMovementRef(d.Sequence), Version: d.Sequence}, nil
		}
	case *Judgment:
		if d != nil {
			ref := CassiopeeDecisionRef(d.ProsecutionNumber, d.Person.LastName, d.Person.FirstNames, d.Person.BirthDate)
			return FactID{System: SystemCassiopee, Ref: ref, Version: d.TransmissionNumber}, nil
		}
	case *Measure:
		if d != nil {
			return FactID{System: SystemAPPI, Ref: APPIMeasureRef(d.MeasureNumber), Version: d.Version}, nil
		}
	case *CaseTransfer:
		if d != nil {
			return FactID{System: SystemPrisme, Ref: PrismeEventRef(d.EventID), Version: 0}, nil
		}
	case *Report:
		if d != nil {
			return FactID{System: SystemPrisme, Ref: PrismeEventRef(d.EventID), Version: 0}, nil
		}
	}
	return FactID{}, fmt.Errorf("fact of %T: %w", data, ErrNoFact)
}
