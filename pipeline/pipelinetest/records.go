package pipelinetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"passerelle/canonical"
)

// PenalRecords generates n canonical penal records (GENESIS fiches pénales, type
// fr.justice.penal-record.v1) as JSON lines, the same for the same seed: the records of
// the end-to-end benchmarks. They look like the examples of
// schemas/examples/penal-record/valid (1.5 to 3 KiB each): varied names, birth places,
// establishments, NATINF offences, sentences and reductions.
//
// About a third of the records are a newer version of a fiche already sent (a
// reduction granted, a conviction added, a release), and some persons come back under
// a new committal, so that identity resolution, deduplication and ordering work as on
// a real export. Every record is a new version of its fact: all of them are accepted
// and all of them reach a destination. The subject is left empty, as a GENESIS
// connector leaves it: the pipeline resolves the person from the identifiers.
func PenalRecords(n int, seed uint64) [][]byte {
	g := &recordGen{rng: rand.New(rand.NewPCG(seed, seed^0x5deece66d)), at: time.Date(2024, 1, 2, 7, 0, 0, 0, time.UTC)} //nolint:gosec // test data.
	lines := make([][]byte, 0, n)
	for range n {
		lines = append(lines, g.next())
	}
	return lines
}

// WritePenalRecords writes PenalRecords(n, seed) to path as a JSON-lines file and
// returns the lines.
func WritePenalRecords(path string, n int, seed uint64) ([][]byte, error) {
	lines := PenalRecords(n, seed)
	if err := os.WriteFile(path, JoinLines(lines), 0o600); err != nil {
		return nil, fmt.Errorf("pipelinetest: write penal records: %w", err)
	}
	return lines, nil
}

type establishment struct{ code, name string }

// establishments are prison establishments with a code shaped like GENESIS's (the
// département, then a number).
var establishments = []establishment{
	{"0750101", "Centre pénitentiaire de Paris-La Santé"},
	{"0940101", "Centre pénitentiaire de Fresnes"},
	{"0910101", "Maison d'arrêt de Fleury-Mérogis"},
	{"0920101", "Maison d'arrêt de Nanterre"},
	{"0930101", "Maison d'arrêt de Villepinte"},
	{"0770101", "Centre pénitentiaire de Meaux-Chauconin"},
	{"0780201", "Maison centrale de Poissy"},
	{"0690401", "Maison d'arrêt de Lyon-Corbas"},
	{"0690501", "Centre de détention de Villefranche-sur-Saône"},
	{"0130101", "Centre pénitentiaire de Marseille-Les Baumettes"},
	{"0130301", "Centre pénitentiaire d'Aix-Luynes"},
	{"0590201", "Centre pénitentiaire de Lille-Annœullin"},
	{"0590301", "Maison d'arrêt de Lille-Sequedin"},
	{"0330101", "Centre pénitentiaire de Bordeaux-Gradignan"},
	{"0310201", "Centre de détention de Muret"},
	{"0310101", "Maison d'arrêt de Toulouse-Seysses"},
	{"0440101", "Centre pénitentiaire de Nantes"},
	{"0350101", "Centre pénitentiaire de Rennes-Vezin"},
	{"0670101", "Maison d'arrêt de Strasbourg"},
	{"0060101", "Maison d'arrêt de Nice"},
	{"0340101", "Maison d'arrêt de Villeneuve-lès-Maguelone"},
	{"0210101", "Maison d'arrêt de Dijon"},
	{"0630101", "Maison d'arrêt de Clermont-Ferrand"},
	{"0450101", "Centre pénitentiaire d'Orléans-Saran"},
	{"0760101", "Maison d'arrêt de Rouen"},
	{"0570101", "Centre pénitentiaire de Metz"},
	{"0380101", "Centre pénitentiaire de Grenoble-Varces"},
	{"0620101", "Centre pénitentiaire de Longuenesse"},
	{"0860101", "Centre pénitentiaire de Poitiers-Vivonne"},
	{"9740101", "Centre pénitentiaire du Port (La Réunion)"},
}

type offence struct {
	natinf, label string
	class         canonical.OffenceClassification
}

// offences are NATINF-coded offences with their labels (codes in the NATINF shape;
// the table is illustrative, not the ministry's reference list).
var offences = []offence{
	{"7151", "Vol", canonical.ClassificationDelit},
	{"7875", "Vol aggravé par deux circonstances", canonical.ClassificationDelit},
	{"7876", "Vol aggravé par trois circonstances", canonical.ClassificationDelit},
	{"25", "Recel de bien provenant d'un vol", canonical.ClassificationDelit},
	{"7162", "Vol avec violence ayant entraîné une incapacité de travail n'excédant pas 8 jours", canonical.ClassificationDelit},
	{"7189", "Vol en réunion", canonical.ClassificationDelit},
	{"7205", "Cambriolage : vol dans un local d'habitation avec effraction", canonical.ClassificationDelit},
	{"4284", "Détention non autorisée de stupéfiants", canonical.ClassificationDelit},
	{"4285", "Transport non autorisé de stupéfiants", canonical.ClassificationDelit},
	{"4286", "Offre ou cession non autorisée de stupéfiants", canonical.ClassificationDelit},
	{"4287", "Acquisition non autorisée de stupéfiants", canonical.ClassificationDelit},
	{"4280", "Importation non autorisée de stupéfiants", canonical.ClassificationDelit},
	{"1121", "Conduite d'un véhicule sous l'empire d'un état alcoolique", canonical.ClassificationDelit},
	{"12020", "Conduite d'un véhicule sans permis", canonical.ClassificationDelit},
	{"23597", "Refus d'obtempérer à une sommation de s'arrêter", canonical.ClassificationDelit},
	{"11124", "Violence par conjoint ayant entraîné une incapacité de travail n'excédant pas 8 jours", canonical.ClassificationDelit},
	{"10114", "Violence avec usage ou menace d'une arme suivie d'incapacité supérieure à 8 jours", canonical.ClassificationDelit},
	{"10214", "Violence commise en réunion suivie d'incapacité n'excédant pas 8 jours", canonical.ClassificationDelit},
	{"7230", "Escroquerie", canonical.ClassificationDelit},
	{"7232", "Abus de confiance", canonical.ClassificationDelit},
	{"23986", "Outrage à une personne dépositaire de l'autorité publique", canonical.ClassificationDelit},
	{"229", "Rébellion", canonical.ClassificationDelit},
	{"10256", "Menace de mort réitérée", canonical.ClassificationDelit},
	{"27889", "Harcèlement d'un conjoint suivi d'incapacité n'excédant pas 8 jours", canonical.ClassificationDelit},
	{"22418", "Dégradation ou détérioration grave d'un bien appartenant à autrui", canonical.ClassificationDelit},
	{"12462", "Port sans motif légitime d'arme blanche ou incapacitante de catégorie D", canonical.ClassificationDelit},
	{"22030", "Évasion d'un détenu", canonical.ClassificationDelit},
	{"28390", "Non-respect de l'interdiction de contact avec la victime", canonical.ClassificationDelit},
	{"27436", "Participation à une association de malfaiteurs en vue de la préparation d'un délit puni de 10 ans", canonical.ClassificationDelit},
	{"105", "Meurtre", canonical.ClassificationCrime},
	{"106", "Tentative de meurtre", canonical.ClassificationCrime},
	{"302", "Assassinat", canonical.ClassificationCrime},
	{"7301", "Vol à main armée", canonical.ClassificationCrime},
	{"100", "Viol", canonical.ClassificationCrime},
	{"1004", "Vol avec arme", canonical.ClassificationCrime},
	{"4290", "Direction d'un groupement ayant pour objet le trafic de stupéfiants", canonical.ClassificationCrime},
	{"11242", "Violence ayant entraîné la mort sans intention de la donner", canonical.ClassificationCrime},
	{"1226", "Conduite d'un véhicule sans assurance", canonical.ClassificationContravention},
	{"20495", "Usage de stupéfiants", canonical.ClassificationDelit},
}

var (
	lastNames = []string{
		"MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
		"SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD",
		"BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFEVRE", "FAURE", "ANDRE",
		"MERCIER", "BLANC", "GUERIN", "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER", "GARCIA",
		"PERRIN", "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON",
		"MARCHAND", "DUVAL", "DENIS", "DUMONT", "MARIE", "LEMAIRE", "NOEL", "MEYER", "DUFOUR", "MEUNIER",
		"BRUN", "BLANCHARD", "GIRAUD", "JOLY", "RIVIERE", "LUCAS", "BRUNET", "GAILLARD", "BARBIER", "ARNAUD",
		"N'DIAYE", "DIALLO", "TRAORE", "KONE", "CAMARA", "SYLLA", "BENALI", "HADDAD", "BOUZID", "MANSOURI",
		"BENSAID", "AMRANI", "CHERIF", "RAHMANI", "BELKACEM", "NGUYEN", "TRAN", "PEREIRA", "FERREIRA", "RODRIGUES",
		"DOS SANTOS", "DA SILVA", "MARTINEZ", "LOPEZ", "SANCHEZ", "FERNANDEZ", "POPESCU", "KOWALSKI", "DE LA FONTAINE", "LE GALL",
	}
	firstNamesM = []string{
		"Kevin", "Jordan", "Thomas", "Nicolas", "Julien", "Maxime", "Alexandre", "Anthony", "Romain", "Sébastien",
		"Mohamed", "Karim", "Mehdi", "Yassine", "Sofiane", "Bilal", "Moussa", "Mamadou", "Ibrahima", "Ousmane",
		"Jean", "Pierre", "Michel", "Thierry", "Philippe", "Pascal", "Christophe", "Frédéric", "David", "Stéphane",
		"Dylan", "Enzo", "Lucas", "Hugo", "Théo", "Florian", "Quentin", "Jérémy", "Mickaël", "Loïc",
	}
	firstNamesF = []string{
		"Emma", "Louise", "Marie", "Julie", "Laura", "Sarah", "Camille", "Manon", "Chloé", "Léa",
		"Fatima", "Nadia", "Samira", "Aïcha", "Fatoumata", "Sandrine", "Nathalie", "Isabelle", "Céline", "Aurélie",
	}
	birthPlaces = []struct{ place, nationality string }{
		{"PARIS 18E (75)", "FRA"}, {"PARIS 11E (75)", "FRA"}, {"SAINT-DENIS (93)", "FRA"}, {"BOBIGNY (93)", "FRA"},
		{"LYON 8E (69)", "FRA"}, {"VÉNISSIEUX (69)", "FRA"}, {"MARSEILLE 3E (13)", "FRA"}, {"MARSEILLE 15E (13)", "FRA"},
		{"ROUBAIX (59)", "FRA"}, {"LILLE (59)", "FRA"}, {"TOULOUSE (31)", "FRA"}, {"BORDEAUX (33)", "FRA"},
		{"NANTES (44)", "FRA"}, {"RENNES (35)", "FRA"}, {"STRASBOURG (67)", "FRA"}, {"NICE (06)", "FRA"},
		{"MONTPELLIER (34)", "FRA"}, {"GRENOBLE (38)", "FRA"}, {"ROUEN (76)", "FRA"}, {"METZ (57)", "FRA"},
		{"SAINT-DENIS (974)", "FRA"}, {"POINTE-À-PITRE (971)", "FRA"}, {"ÉVRY (91)", "FRA"}, {"CRÉTEIL (94)", "FRA"},
		{"ALGER (ALGÉRIE)", "DZA"}, {"ORAN (ALGÉRIE)", "DZA"}, {"CASABLANCA (MAROC)", "MAR"}, {"TUNIS (TUNISIE)", "TUN"},
		{"DAKAR (SÉNÉGAL)", "SEN"}, {"BAMAKO (MALI)", "MLI"}, {"ABIDJAN (CÔTE D'IVOIRE)", "CIV"}, {"BUCAREST (ROUMANIE)", "ROU"},
		{"PORTO (PORTUGAL)", "PRT"}, {"TIRANA (ALBANIE)", "ALB"}, {"KABOUL (AFGHANISTAN)", "AFG"}, {"CONAKRY (GUINÉE)", "GIN"},
	}
	courtCities = []string{
		"PARIS", "BOBIGNY", "CRÉTEIL", "NANTERRE", "ÉVRY", "MEAUX", "VERSAILLES", "LYON", "MARSEILLE", "AIX-EN-PROVENCE",
		"LILLE", "DOUAI", "BORDEAUX", "TOULOUSE", "NANTES", "RENNES", "STRASBOURG", "NICE", "MONTPELLIER", "GRENOBLE",
	}
	appealCourts = []string{"Paris", "Versailles", "Lyon", "Aix-en-Provence", "Douai", "Bordeaux", "Toulouse", "Rennes", "Colmar", "Montpellier"}
	assizes      = []string{"de Paris", "du Rhône", "des Bouches-du-Rhône", "du Nord", "de la Gironde", "de la Haute-Garonne", "du Bas-Rhin", "des Alpes-Maritimes"}
	obligations  = []canonical.Obligation{
		canonical.ObligationSoins, canonical.ObligationTravail, canonical.ObligationFormation, canonical.ObligationIndemniserVictime,
		canonical.ObligationResidence, canonical.ObligationInterdictionContactVictime, canonical.ObligationInterdictionParaitre,
		canonical.ObligationStage, canonical.ObligationJustifierPaiement,
	}
	obligationDetails = []string{
		"Suivre des soins en addictologie auprès d'un CSAPA",
		"Ne pas paraître dans la commune de résidence de la victime",
		"Justifier d'une recherche d'emploi tous les mois",
		"Indemniser la partie civile à hauteur de 150 euros par mois",
	}
)

// genPerson is one person of the generated population.
type genPerson struct {
	lastName, usageName string
	firstNames          []string
	sex                 canonical.Sex
	birth               time.Time
	birthPlace          string
	nationality         string
	appi                string   // APPI file number once followed in the community
	prosecutions        []string // numéros parquet
}

// fiche is one committal's penal record as it evolves.
type fiche struct {
	rec canonical.PenalRecord
}

type recordGen struct {
	rng     *rand.Rand
	at      time.Time // the time attribute, advancing
	persons []*genPerson
	fiches  []*fiche // open fiches, a newer version may follow
	seq     map[string]int
}

func (g *recordGen) pick(n int) int { return g.rng.IntN(n) }

func (g *recordGen) next() []byte {
	g.at = g.at.Add(time.Duration(5+g.rng.IntN(120)) * time.Second)
	var f *fiche
	if len(g.fiches) > 50 && g.rng.Float64() < 0.35 {
		// A newer version of a fiche already sent, more often a recent one.
		i := len(g.fiches) - 1 - min(len(g.fiches)-1, int(g.rng.ExpFloat64()*2000))
		f = g.fiches[i]
		g.update(f)
		if f.rec.ReleaseDate != "" {
			// A released person's fiche changes no more.
			g.fiches[i] = g.fiches[len(g.fiches)-1]
			g.fiches = g.fiches[:len(g.fiches)-1]
		}
	} else {
		f = g.newFiche()
		g.fiches = append(g.fiches, f)
	}
	fact := canonical.FactID{System: canonical.SystemGenesis, Ref: canonical.GenesisFicheRef(f.rec.CommittalNumber, f.rec.EstablishmentCode), Version: f.rec.Version}
	m, err := canonical.NewMessage(canonical.TypePenalRecord, "/connectors/genesis", "", fact, g.at, f.rec)
	if err != nil {
		panic(err) // a generator bug; the types are fixed
	}
	m.ID = newID(g.rng)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func (g *recordGen) date(t time.Time) canonical.Date { return canonical.DateOf(t) }

func (g *recordGen) days(lo, hi int) time.Duration {
	return time.Duration(lo+g.rng.IntN(hi-lo+1)) * 24 * time.Hour
}

func (g *recordGen) newPerson() *genPerson {
	p := &genPerson{lastName: lastNames[g.pick(len(lastNames))]}
	names := firstNamesM
	p.sex = canonical.SexMale
	if g.rng.Float64() < 0.04 { // about 4% of people in custody are women
		names, p.sex = firstNamesF, canonical.SexFemale
	}
	for range 1 + g.pick(3) {
		p.firstNames = append(p.firstNames, names[g.pick(len(names))])
	}
	if p.sex == canonical.SexFemale && g.rng.Float64() < 0.3 {
		p.usageName = lastNames[g.pick(len(lastNames))]
	}
	p.birth = time.Date(1955+g.pick(50), time.Month(1+g.pick(12)), 1+g.pick(28), 0, 0, 0, 0, time.UTC)
	bp := birthPlaces[g.pick(len(birthPlaces))]
	p.birthPlace, p.nationality = bp.place, bp.nationality
	if g.rng.Float64() < 0.3 {
		p.appi = fmt.Sprintf("%d%08d", 2015+g.pick(10), g.rng.IntN(1e8))
	}
	g.persons = append(g.persons, p)
	return p
}

func (g *recordGen) prosecutionNumber(year int) string {
	return fmt.Sprintf("%02d%09d", year%100, g.rng.IntN(1e9))
}

func (g *recordGen) court(crime bool) (string, canonical.DecisionKind, string) {
	switch {
	case crime:
		return "Cour d'assises " + assizes[g.pick(len(assizes))], canonical.DecisionArret, "CASS"
	case g.rng.Float64() < 0.2:
		return "Cour d'appel de " + appealCourts[g.pick(len(appealCourts))], canonical.DecisionArret, "CA"
	default:
		return "TJ " + courtCities[g.pick(len(courtCities))], canonical.DecisionJugement, "TJ"
	}
}

func (g *recordGen) newFiche() *fiche {
	var p *genPerson
	if len(g.persons) > 100 && g.rng.Float64() < 0.15 {
		p = g.persons[g.pick(len(g.persons))] // someone already known, committed again
	} else {
		p = g.newPerson()
	}
	est := establishments[g.pick(len(establishments))]
	committal := g.at.Add(-g.days(0, 900))
	if g.seq == nil {
		g.seq = map[string]int{}
	}
	key := fmt.Sprintf("%s/%02d", est.code, committal.Year()%100)
	g.seq[key]++
	number := fmt.Sprintf("%02d-%04d", committal.Year()%100, g.seq[key]%10000)
	if g.seq[key] >= 10000 {
		number = fmt.Sprintf("%02d-%05d", committal.Year()%100, g.seq[key])
	}
	prosecution := g.prosecutionNumber(committal.Year() - g.pick(2))
	if len(p.prosecutions) < 4 {
		p.prosecutions = append(p.prosecutions, prosecution)
	}
	r := canonical.PenalRecord{
		CommittalNumber:   number,
		EstablishmentCode: est.code,
		Version:           int64(g.pick(4)),
		CommittalDate:     g.date(committal),
		Status:            canonical.CustodyStatusPrevenu,
		Convictions:       []canonical.Conviction{},
	}
	if g.rng.Float64() < 0.9 {
		r.EstablishmentName = est.name
	}
	r.Person = canonical.Person{
		LastName: p.lastName, UsageName: p.usageName, FirstNames: p.firstNames, Sex: p.sex,
		BirthDate: g.date(p.birth), BirthPlace: p.birthPlace, Nationality: p.nationality,
		Identifiers: canonical.Identifiers{
			CommittalNumber: number, EstablishmentCode: est.code, AppiFileNumber: p.appi,
			ProsecutionNumbers: append([]string(nil), p.prosecutions...),
		},
	}
	f := &fiche{rec: r}
	switch roll := g.rng.Float64(); {
	case roll < 0.2: // on remand only
	case roll < 0.35:
		f.rec.Status = canonical.CustodyStatusMixte
		g.addConviction(f, committal)
	default:
		f.rec.Status = canonical.CustodyStatusCondamne
		for range 1 + g.pick(2) {
			g.addConviction(f, committal)
		}
	}
	for range g.pick(3) {
		g.addReduction(f)
	}
	g.project(f)
	return f
}

// update makes the next version of a fiche: a reduction granted or withdrawn, a
// conviction, a release.
func (g *recordGen) update(f *fiche) {
	f.rec.Version += int64(1 + g.pick(3))
	committal, _ := f.rec.CommittalDate.Time()
	// A fiche stays within the size of a real one: at most 3 convictions and 6
	// reductions; after that, its next change is the release.
	roll := g.rng.Float64()
	if len(f.rec.Convictions) >= 3 && roll >= 0.45 && roll < 0.75 || len(f.rec.Reductions) >= 6 && roll < 0.45 {
		roll = 0.95
	}
	switch {
	case roll < 0.45 && len(f.rec.Convictions) > 0:
		g.addReduction(f)
	case roll < 0.75 || len(f.rec.Convictions) == 0:
		g.addConviction(f, committal)
		if f.rec.Status == canonical.CustodyStatusPrevenu {
			f.rec.Status = canonical.CustodyStatusCondamne
			if g.rng.Float64() < 0.3 {
				f.rec.Status = canonical.CustodyStatusMixte
			}
		}
	case roll < 0.9 && len(f.rec.Convictions) > 0 && len(f.rec.Reductions) < 6:
		f.rec.Reductions = append(f.rec.Reductions, canonical.Reduction{Type: canonical.ReductionRetrait, Days: 1 + g.pick(30),
			DecisionDate: g.date(g.at.Add(-g.days(0, 30)))})
	default:
		f.rec.ReleaseDate = g.date(g.at)
	}
	g.project(f)
}

func (g *recordGen) addConviction(f *fiche, committal time.Time) {
	decided := committal.Add(-g.days(0, 400))
	if g.rng.Float64() < 0.5 {
		decided = committal.Add(g.days(0, 300))
	}
	var offs []canonical.Offence
	crime := false
	for range 1 + g.pick(3) {
		o := offences[g.pick(len(offences))]
		off := canonical.Offence{Natinf: o.natinf, Label: o.label}
		if g.rng.Float64() < 0.8 {
			off.OffenceDate = g.date(decided.Add(-g.days(30, 700)))
		}
		if g.rng.Float64() < 0.5 {
			off.Classification = o.class
		}
		crime = crime || o.class == canonical.ClassificationCrime
		offs = append(offs, off)
	}
	court, kind, prefix := g.court(crime)
	c := canonical.Conviction{
		DecisionReference: fmt.Sprintf("%s-%d-%06d", prefix, decided.Year(), g.rng.IntN(1e6)),
		Court:             court,
		DecisionDate:      g.date(decided),
		DecisionKind:      kind,
		Offences:          offs,
	}
	if ps := f.rec.Person.Identifiers.ProsecutionNumbers; len(ps) > 0 && g.rng.Float64() < 0.8 {
		c.ProsecutionNumber = ps[g.pick(len(ps))]
	}
	start := committal
	if decided.After(start) {
		start = decided
	}
	switch {
	case crime:
		years := 5 + g.pick(21)
		c.Sentences = append(c.Sentences, canonical.Sentence{
			Kind: canonical.SentenceReclusionCriminelle, Duration: &canonical.Duration{Years: years},
			ExecutionStartDate: g.date(committal), EndDate: g.date(committal.AddDate(years, 0, -1)),
		})
		f.rec.SecurityPeriodEnd = g.date(committal.AddDate(years/2, 0, 0))
	case g.rng.Float64() < 0.15:
		months := 6 + g.pick(30)
		c.Sentences = append(c.Sentences, canonical.Sentence{
			Kind: canonical.SentenceRevocationSursis, Duration: &canonical.Duration{Months: months},
			ExecutionStartDate: g.date(start), EndDate: g.date(start.AddDate(0, months, -1)),
		})
	default:
		years, months := g.pick(5), g.pick(12)
		if years == 0 && months == 0 {
			months = 4
		}
		s := canonical.Sentence{
			Kind: canonical.SentenceEmprisonnement, Duration: &canonical.Duration{Years: years, Months: months},
			ExecutionStartDate: g.date(start), EndDate: g.date(start.AddDate(years, months, -1)),
		}
		if g.rng.Float64() < 0.3 {
			s.SuspendedDuration = &canonical.Duration{Months: 3 + g.pick(10)}
		}
		if g.rng.Float64() < 0.4 {
			s.CommittalOrdered = new(true)
		}
		c.Sentences = append(c.Sentences, s)
	}
	switch roll := g.rng.Float64(); {
	case roll < 0.2:
		s := canonical.Sentence{
			Kind: canonical.SentenceSursisProbatoire, Duration: &canonical.Duration{Months: 6 + g.pick(18)},
			ProbationPeriod: &canonical.Duration{Years: 1 + g.pick(3)},
		}
		for range 1 + g.pick(3) {
			s.Obligations = append(s.Obligations, obligations[g.pick(len(obligations))])
		}
		s.Obligations = uniqueObligations(s.Obligations)
		if g.rng.Float64() < 0.3 {
			s.ObligationDetails = obligationDetails[g.pick(len(obligationDetails))]
		}
		c.Sentences = append(c.Sentences, s)
	case roll < 0.35:
		amount := int64(100+g.pick(4900)) * 100
		c.Sentences = append(c.Sentences, canonical.Sentence{Kind: canonical.SentenceAmende, AmountCents: &amount})
	case roll < 0.45:
		c.Sentences = append(c.Sentences, canonical.Sentence{Kind: canonical.SentenceInterdiction, Duration: &canonical.Duration{Years: 1 + g.pick(5)}})
	}
	f.rec.Convictions = append(f.rec.Convictions, c)
}

func uniqueObligations(in []canonical.Obligation) []canonical.Obligation {
	seen := map[canonical.Obligation]bool{}
	out := in[:0]
	for _, o := range in {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

func (g *recordGen) addReduction(f *fiche) {
	t := canonical.ReductionRP
	days := 7 * (1 + g.pick(13))
	switch roll := g.rng.Float64(); {
	case roll < 0.25:
		t = canonical.ReductionRPS
	case roll < 0.35:
		t, days = canonical.ReductionRetrait, 1+g.pick(30)
	}
	f.rec.Reductions = append(f.rec.Reductions, canonical.Reduction{Type: t, Days: days, DecisionDate: g.date(g.at.Add(-g.days(0, 60)))})
}

// project sets the projected release date: the latest end of a prison sentence, less
// the net reductions.
func (g *recordGen) project(f *fiche) {
	var end time.Time
	for _, c := range f.rec.Convictions {
		for _, s := range c.Sentences {
			if t, err := s.EndDate.Time(); err == nil && t.After(end) {
				end = t
			}
		}
	}
	if end.IsZero() {
		f.rec.ProjectedReleaseDate = ""
		return
	}
	f.rec.ProjectedReleaseDate = g.date(end.AddDate(0, 0, -f.rec.NetReductionDays()))
}
