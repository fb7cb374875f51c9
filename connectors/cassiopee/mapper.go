package cassiopee

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"passerelle/canonical"
	"passerelle/connectors"
)

// Source is the CloudEvents source of the messages this connector produces.
const Source = "/connectors/cassiopee"

// ToJudgments maps a decoded decision to canonical judgments, one per prévenu, in the
// order of the prévenus (contracts/README.md, flow 2). Each message's fact is
// Cassiopée's decision for that person — canonical.CassiopeeDecisionRef(numéro
// parquet, nom, prénoms, date de naissance) in version numeroTransmission — so a
// re-transmission supersedes the earlier one for each defendant and co-defendants
// stay apart; its time is now (the export carries no timestamp of its own: the hub
// receives the transmission now); its subject is left empty, for the pipeline to
// resolve from the person's identifiers.
//
// The rules (contracts/README.md, "Mapping rules"): dates JJ/MM/AAAA become AAAA-MM-JJ;
// durations 2A6M15J become {2, 6, 15}, a missing part 0, never normalised; amounts
// "1500,00" become 150000 cents, exactly; a JOURS_AMENDE's montant is its
// dailyAmountCents and its duree its number of days; the four renamed peine codes
// (SentenceKind); first names keep their order; numeroEcrou becomes the person's
// committalNumber (Cassiopée knows no establishment: the identifier travels alone and
// the pipeline, which matches écrou numbers only with their establishment, does not
// match on it); the numéro parquet is both the judgment's prosecutionNumber and the
// person's prosecutionNumbers[0]; nationalite becomes an ISO 3166-1 alpha-3 code when it
// is one or a label of the table, and is omitted otherwise (Nationality says why);
// greffier becomes court.clerk; adresse and precisionObligations are carried (the
// data-protection policy decides who receives them). Fields the contract does not
// name were never decoded, so they are never carried.
//
// A decision that Decode would refuse (an impossible date, a malformed duration or
// amount, no prévenu, a transmission number below 1) is an error marked
// connectors.ErrPermanent wrapping ErrInvalidDecision, naming the field by its JSON
// pointer and never quoting a value.
func ToJudgments(d *Decision, now time.Time) ([]*canonical.Message, error) {
	if d == nil {
		return nil, invalid("", "no decision")
	}
	if d.NumeroTransmission < 1 {
		return nil, invalid("/numeroTransmission", "below 1")
	}
	if len(d.Prevenus) == 0 {
		return nil, invalid("/prevenus", "no prévenu")
	}
	base, err := judgmentBase(d)
	if err != nil {
		return nil, err
	}
	msgs := make([]*canonical.Message, 0, len(d.Prevenus))
	for i := range d.Prevenus {
		ptr := "/prevenus/" + strconv.Itoa(i)
		j := base // a copy: Court and the scalars are values, nothing shared is changed
		if err := mapPrevenu(&j, &d.Prevenus[i], ptr); err != nil {
			return nil, err
		}
		fact := canonical.FactID{
			System:  canonical.SystemCassiopee,
			Ref:     canonical.CassiopeeDecisionRef(j.ProsecutionNumber, j.Person.LastName, j.Person.FirstNames, j.Person.BirthDate),
			Version: d.NumeroTransmission,
		}
		m, err := canonical.NewMessage(canonical.TypeJudgment, Source, "", fact, now, &j)
		if err != nil {
			return nil, connectors.Permanent(fmt.Errorf("cassiopee: map %s: %w", ptr, err))
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// invalid makes ToJudgments' error for the field at ptr.
func invalid(ptr, why string) error {
	if ptr == "" {
		return connectors.Permanent(fmt.Errorf("%w: %s", ErrInvalidDecision, why))
	}
	return connectors.Permanent(fmt.Errorf("%w: %s: %s", ErrInvalidDecision, ptr, why))
}

// invalidErr makes ToJudgments' error for a parser's error at ptr; the parsers' errors
// quote no value.
func invalidErr(ptr string, err error) error {
	return connectors.Permanent(fmt.Errorf("%w: %s: %w", ErrInvalidDecision, ptr, err))
}

// judgmentBase maps what every defendant's judgment shares.
func judgmentBase(d *Decision) (canonical.Judgment, error) {
	jg := d.Jugement
	j := canonical.Judgment{
		TransmissionNumber: d.NumeroTransmission,
		Court:              canonical.Court{Code: d.Juridiction.Code, Label: d.Juridiction.Libelle, Clerk: d.Juridiction.Greffier},
		ProsecutionNumber:  jg.NumeroParquet,
		JudgmentNumber:     jg.NumeroJugement,
		Nature:             canonical.JudgmentNature(jg.Nature),
		Character:          canonical.JudgmentCharacter(jg.Caractere),
		Appeal:             jg.Appel,
	}
	var err error
	if j.DecisionDate, err = ParseDate(jg.DateDecision); err != nil {
		return j, invalidErr("/decision/dateDecision", err)
	}
	if jg.ExecutoireLe != "" {
		if j.EnforceableOn, err = ParseDate(jg.ExecutoireLe); err != nil {
			return j, invalidErr("/decision/executoireLe", err)
		}
	}
	return j, nil
}

// mapPrevenu fills the defendant's part of j: person, offences, sentences.
func mapPrevenu(j *canonical.Judgment, p *Prevenu, ptr string) error {
	id := p.Identite
	birth, err := ParseDate(id.DateNaissance)
	if err != nil {
		return invalidErr(ptr+"/identite/dateNaissance", err)
	}
	j.Person = canonical.Person{
		LastName:    id.Nom,
		UsageName:   id.NomUsage,
		FirstNames:  append([]string(nil), id.Prenoms...),
		Sex:         canonical.Sex(id.Sexe),
		BirthDate:   birth,
		BirthPlace:  id.LieuNaissance,
		Nationality: Nationality(id.Nationalite),
		Address:     id.Adresse,
		Identifiers: canonical.Identifiers{CommittalNumber: p.NumeroEcrou},
	}
	if j.ProsecutionNumber != "" {
		j.Person.Identifiers.ProsecutionNumbers = []string{j.ProsecutionNumber}
	}
	j.Offences = make([]canonical.Offence, len(p.Infractions))
	for k, inf := range p.Infractions {
		o := canonical.Offence{Natinf: inf.Natinf, Label: inf.Libelle, Classification: canonical.OffenceClassification(inf.Qualification)}
		if inf.DateFaits != "" {
			if o.OffenceDate, err = ParseDate(inf.DateFaits); err != nil {
				return invalidErr(ptr+"/infractions/"+strconv.Itoa(k)+"/dateFaits", err)
			}
		}
		j.Offences[k] = o
	}
	j.Sentences = make([]canonical.Sentence, len(p.Peines))
	for k := range p.Peines {
		s, err := mapPeine(&p.Peines[k], ptr+"/peines/"+strconv.Itoa(k))
		if err != nil {
			return err
		}
		j.Sentences[k] = s
	}
	return nil
}

// mapPeine maps one sentence.
func mapPeine(p *Peine, ptr string) (canonical.Sentence, error) {
	kind, ok := SentenceKind(p.Code)
	if !ok {
		return canonical.Sentence{}, invalid(ptr+"/code", "not a sentence code of the contract")
	}
	s := canonical.Sentence{
		Kind:                 kind,
		Hours:                p.Heures,
		ObligationDetails:    p.PrecisionObligations,
		ProvisionalExecution: p.ExecutionProvisoire,
		CommittalOrdered:     p.MandatDepot,
	}
	durations := []struct {
		text  string
		into  **canonical.Duration
		field string
	}{{p.Duree, &s.Duration, "/duree"}, {p.DureeSursis, &s.SuspendedDuration, "/dureeSursis"}, {p.DelaiEpreuve, &s.ProbationPeriod, "/delaiEpreuve"}}
	for _, d := range durations {
		if d.text == "" {
			continue
		}
		v, err := ParseDuree(d.text)
		if err != nil {
			return s, invalidErr(ptr+d.field, err)
		}
		*d.into = &v
	}
	if p.Montant != "" {
		cents, err := ParseMontant(p.Montant)
		if err != nil {
			return s, invalidErr(ptr+"/montant", err)
		}
		if p.Code == CodeJoursAmende {
			s.DailyAmountCents = &cents // per day; the days are in Duration
		} else {
			s.AmountCents = &cents
		}
	}
	if p.Obligations != nil {
		s.Obligations = make([]canonical.Obligation, len(p.Obligations))
		for k, o := range p.Obligations {
			s.Obligations[k] = canonical.Obligation(o)
		}
	}
	return s, nil
}

// nationalities maps the labels clerks commonly type in the free-text nationalite field
// (upper case, accents removed, single spaces) to ISO 3166-1 alpha-3 codes. It is
// deliberately small: the common cases in French courts, as adjective (both genders)
// or country name.
var nationalities = map[string]string{
	"FRANCAISE": "FRA", "FRANCAIS": "FRA", "FRANCE": "FRA",
	"ALGERIENNE": "DZA", "ALGERIEN": "DZA", "ALGERIE": "DZA",
	"MAROCAINE": "MAR", "MAROCAIN": "MAR", "MAROC": "MAR",
	"TUNISIENNE": "TUN", "TUNISIEN": "TUN", "TUNISIE": "TUN",
	"PORTUGAISE": "PRT", "PORTUGAIS": "PRT", "PORTUGAL": "PRT",
	"ITALIENNE": "ITA", "ITALIEN": "ITA", "ITALIE": "ITA",
	"ESPAGNOLE": "ESP", "ESPAGNOL": "ESP", "ESPAGNE": "ESP",
	"BELGE": "BEL", "BELGIQUE": "BEL",
	"ALLEMANDE": "DEU", "ALLEMAND": "DEU", "ALLEMAGNE": "DEU",
	"ROUMAINE": "ROU", "ROUMAIN": "ROU", "ROUMANIE": "ROU",
	"BRITANNIQUE": "GBR", "ROYAUME-UNI": "GBR",
	"SENEGALAISE": "SEN", "SENEGALAIS": "SEN", "SENEGAL": "SEN",
	"MALIENNE": "MLI", "MALIEN": "MLI", "MALI": "MLI",
	"IVOIRIENNE": "CIV", "IVOIRIEN": "CIV", "COTE D'IVOIRE": "CIV",
	"TURQUE": "TUR", "TURC": "TUR", "TURQUIE": "TUR",
	"SUISSE": "CHE",
}

// foldLabel upper-cases a label, removes French accents and makes white-space runs one
// space, so that "française ", "FRANÇAISE" and "Francaise" read alike.
var foldLabel = strings.NewReplacer(
	"À", "A", "Â", "A", "Ä", "A", "Ç", "C", "É", "E", "È", "E", "Ê", "E", "Ë", "E",
	"Î", "I", "Ï", "I", "Ô", "O", "Ö", "O", "Ù", "U", "Û", "U", "Ü", "U", "Ÿ", "Y",
	"’", "'",
)

// Nationality returns the ISO 3166-1 alpha-3 code of a Cassiopée nationalite: the text
// itself when it is three letters (upper-cased: "fra" is FRA), the code of a common
// French label of the table ("FRANÇAISE", "française", "FRANCAISE" are FRA), and ""
// otherwise, which omits the field.
//
// Omitting beats quarantining: nationalite is free text in the contract, so a label
// the table does not know is not the clerk's mistake; the field is optional in the
// canonical model and at PRISME, and nobody matches or decides on it (PRISME matches a
// person on identifiers, then name and birth date). Holding the whole enforceable
// judgment in quarantine for it would delay the SPIP's work on a sentence to save a
// label; sending the free text instead would break the canonical alpha-3 rule and
// spread an unchecked label.
func Nationality(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) == 3 && isLetters(s) {
		return strings.ToUpper(s)
	}
	return nationalities[foldLabel.Replace(strings.ToUpper(s))]
}

// isLetters reports whether s is ASCII letters only.
func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
