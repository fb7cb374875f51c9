package sim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"

	"passerelle/connectors/cassiopee"
)

// The mistakes a clerk makes, that the intake must refuse (Transmission.Mistake).
const (
	// MistakeImpossibleDate: a dateDecision that is not in the calendar (31/02/2024).
	MistakeImpossibleDate = "date-impossible"
	// MistakeSursisExceeds: a dureeSursis longer than the duree it is part of.
	MistakeSursisExceeds = "sursis-superieur-a-la-peine"
	// MistakeOtherCourt: a decision of another court sent with this court's certificate.
	MistakeOtherCourt = "autre-juridiction"
	// MistakeZeroDuration: a duree written 0A0M0J.
	MistakeZeroDuration = "duree-nulle"
)

// Mistakes lists every mistake kind.
var Mistakes = []string{MistakeImpossibleDate, MistakeSursisExceeds, MistakeOtherCourt, MistakeZeroDuration}

// Generator makes realistic decisions of one court: one to three prévenus, varied
// offences and sentences (EMP with or without a suspended part and mandat de dépôt,
// EMP_SURSIS, EMP_SURSIS_PROBATOIRE with obligations, TIG, JOURS_AMENDE, AMENDE, SSJ,
// DDSE, STAGE, INTERDICTION), re-transmissions that correct them, and mistakes. The
// people are invented. It is deterministic for a seed; not safe for concurrent use.
type Generator struct {
	rng   *rand.Rand
	court Court
	seq   int
}

// NewGenerator returns a generator of court's decisions.
func NewGenerator(seed uint64, court Court) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, 0x636173)), court: court}
}

var (
	lastNames   = []string{"MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX", "VINCENT", "FOURNIER", "N'DIAYE", "BENALI", "DA SILVA", "NGUYEN", "HADDAD", "TRAORÉ"}
	firstNamesM = []string{"Julien", "Karim", "Moussa", "Nicolas", "Thomas", "Mehdi", "Kevin", "Pierre", "Yanis", "Lucas", "José", "Stéphane"}
	firstNamesF = []string{"Sarah", "Fatou", "Camille", "Inès", "Julie", "Aïcha", "Laura", "Marie", "Nadia", "Élodie"}
	offences    = []struct{ natinf, libelle, qualification string }{
		{"7875", "Vol aggravé par deux circonstances", "DELIT"},
		{"25", "Recel de bien provenant d'un vol", "DELIT"},
		{"7151", "Violence suivie d'incapacité n'excédant pas 8 jours par conjoint", "DELIT"},
		{"13", "Conduite d'un véhicule sous l'empire d'un état alcoolique", "DELIT"},
		{"11116", "Outrage à personne dépositaire de l'autorité publique", "DELIT"},
		{"26097", "Usage illicite de stupéfiants", "DELIT"},
		{"7161", "Escroquerie", "DELIT"},
		{"20482", "Conduite d'un véhicule sans permis", "DELIT"},
	}
	obligations = []string{"SOINS", "TRAVAIL", "FORMATION", "INDEMNISER_VICTIME", "RESIDENCE", "INTERDICTION_CONTACT_VICTIME", "INTERDICTION_PARAITRE", "STAGE", "JUSTIFIER_PAIEMENT"}
	natures     = []string{"JUGEMENT", "JUGEMENT", "JUGEMENT", "ARRET", "ORDONNANCE_PENALE", "CRPC"}
	caracteres  = []string{"CONTRADICTOIRE", "CONTRADICTOIRE", "CONTRADICTOIRE_A_SIGNIFIER", "DEFAUT", "ITERATIF_DEFAUT"}
	streets     = []string{"rue des Tanneurs", "avenue Jean Jaurès", "rue de la République", "boulevard Victor Hugo", "impasse des Lilas"}
)

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// date returns a JJ/MM/AAAA calendar date in year (days 1 to 28: always real).
func (g *Generator) date(year int) string {
	return fmt.Sprintf("%02d/%02d/%04d", 1+g.rng.IntN(28), 1+g.rng.IntN(12), year)
}

// Decision returns a new valid decision at transmission 1. Its numéro parquet is the
// court code followed by a sequence number, unique per generator.
func (g *Generator) Decision() *cassiopee.Decision {
	g.seq++
	day, month := 1+g.rng.IntN(28), 1+g.rng.IntN(12)
	decided := fmt.Sprintf("%02d/%02d/2024", day, month)
	d := &cassiopee.Decision{
		VersionFormat: "3", NumeroTransmission: 1,
		Juridiction: cassiopee.Juridiction{Code: g.court.Code, Libelle: g.court.Libelle, Greffier: "Greffe correctionnel"},
		Jugement: cassiopee.Jugement{
			NumeroParquet:  fmt.Sprintf("%s%05d", g.court.Code, g.seq%100000),
			NumeroJugement: fmt.Sprintf("2024/%d", g.seq),
			DateDecision:   decided, Nature: g.pick(natures), Caractere: g.pick(caracteres),
			ExecutoireLe: decided,
		},
	}
	n := 1 + g.rng.IntN(3)
	if g.rng.IntN(2) == 0 {
		n = 1
	}
	seen := map[string]bool{}
	for len(d.Prevenus) < n {
		p := g.prevenu()
		// PRISME matches a person on nom + date de naissance: two co-defendants alike
		// on both would be one dossier there.
		k := p.Identite.Nom + "|" + p.Identite.DateNaissance
		if seen[k] {
			continue
		}
		seen[k] = true
		d.Prevenus = append(d.Prevenus, p)
	}
	return d
}

func (g *Generator) prevenu() cassiopee.Prevenu {
	sexe, names := "M", firstNamesM
	if g.rng.IntN(4) == 0 {
		sexe, names = "F", firstNamesF
	}
	id := cassiopee.Identite{Nom: g.pick(lastNames), Prenoms: []string{g.pick(names)}, Sexe: sexe,
		DateNaissance: g.date(1960 + g.rng.IntN(45)), Nationalite: "FRA"}
	if g.rng.IntN(3) == 0 {
		id.Prenoms = append(id.Prenoms, g.pick(names))
	}
	if g.rng.IntN(2) == 0 {
		id.Adresse = fmt.Sprintf("%d %s %s", 1+g.rng.IntN(120), g.pick(streets), g.court.Libelle[3:])
	}
	p := cassiopee.Prevenu{Identite: id}
	for range 1 + g.rng.IntN(2) {
		o := offences[g.rng.IntN(len(offences))]
		p.Infractions = append(p.Infractions, cassiopee.Infraction{Natinf: o.natinf, Libelle: o.libelle,
			DateFaits: g.date(2023), Qualification: o.qualification})
	}
	p.Peines = []cassiopee.Peine{g.peine()}
	if g.rng.IntN(4) == 0 {
		p.Peines = append(p.Peines, cassiopee.Peine{Code: cassiopee.CodeAmende, Montant: fmt.Sprintf("%d,00", 100*(1+g.rng.IntN(20)))})
	}
	if p.Peines[0].MandatDepot != nil && *p.Peines[0].MandatDepot {
		p.NumeroEcrou = fmt.Sprintf("24-%04d", g.rng.IntN(10000))
	}
	return p
}

func (g *Generator) peine() cassiopee.Peine {
	yes := true
	switch g.rng.IntN(9) {
	case 0:
		p := cassiopee.Peine{Code: cassiopee.CodeEMP, Duree: fmt.Sprintf("%dA%dM", 1+g.rng.IntN(3), g.rng.IntN(12))}
		if g.rng.IntN(2) == 0 {
			p.DureeSursis = "6M"
		}
		if g.rng.IntN(3) == 0 {
			p.MandatDepot = &yes
		}
		return p
	case 1:
		m := fmt.Sprintf("%dM", 2+g.rng.IntN(10))
		return cassiopee.Peine{Code: cassiopee.CodeEMPSursis, Duree: m, DureeSursis: m}
	case 2, 3:
		m := fmt.Sprintf("%dM", 4+g.rng.IntN(20))
		obl := slices.Clone(obligations)
		g.rng.Shuffle(len(obl), func(i, j int) { obl[i], obl[j] = obl[j], obl[i] })
		return cassiopee.Peine{Code: cassiopee.CodeEMPSursisProbatoire, Duree: m, DureeSursis: m,
			DelaiEpreuve: fmt.Sprintf("%dA", 1+g.rng.IntN(3)), Obligations: obl[:1+g.rng.IntN(3)],
			PrecisionObligations: "Obligation de soins ; justifier de démarches d'insertion."}
	case 4:
		return cassiopee.Peine{Code: cassiopee.CodeTIG, Heures: 20 * (1 + g.rng.IntN(20)), ExecutionProvisoire: &yes}
	case 5:
		return cassiopee.Peine{Code: cassiopee.CodeJoursAmende, Duree: fmt.Sprintf("%dJ", 10*(1+g.rng.IntN(30))),
			Montant: fmt.Sprintf("%d,00", 5+g.rng.IntN(50))}
	case 6:
		return cassiopee.Peine{Code: cassiopee.CodeAmende, Montant: fmt.Sprintf("%d,%02d", 100+g.rng.IntN(5000), g.rng.IntN(100))}
	case 7:
		return cassiopee.Peine{Code: cassiopee.CodeSSJ, Duree: fmt.Sprintf("%dA", 2+g.rng.IntN(8)), Obligations: []string{"SOINS"}}
	default:
		return cassiopee.Peine{Code: cassiopee.CodeDDSE, Duree: fmt.Sprintf("%dM", 1+g.rng.IntN(6))}
	}
}

// Retransmit returns d corrected and transmitted again: numeroTransmission + 1 and
// one prévenu's sentences changed, as after a rectification. d is unchanged.
func (g *Generator) Retransmit(d *cassiopee.Decision) *cassiopee.Decision {
	c := clone(d)
	c.NumeroTransmission++
	i := g.rng.IntN(len(c.Prevenus))
	c.Prevenus[i].Peines = []cassiopee.Peine{g.peine()}
	c.Prevenus[i].NumeroEcrou = ""
	return c
}

// Mistake returns a copy of d with the mistake kind (one of Mistakes).
func (g *Generator) Mistake(d *cassiopee.Decision, kind string) *cassiopee.Decision {
	c := clone(d)
	switch kind {
	case MistakeImpossibleDate:
		c.Jugement.DateDecision, c.Jugement.ExecutoireLe = "31/02/2024", ""
	case MistakeSursisExceeds:
		c.Prevenus[0].Peines = []cassiopee.Peine{{Code: cassiopee.CodeEMPSursis, Duree: "6M", DureeSursis: "1A"}}
	case MistakeOtherCourt:
		other := Courts[0]
		if other.Code == g.court.Code {
			other = Courts[1]
		}
		c.Juridiction.Code, c.Juridiction.Libelle = other.Code, other.Libelle
	case MistakeZeroDuration:
		c.Prevenus[0].Peines = []cassiopee.Peine{{Code: cassiopee.CodeDDSE, Duree: "0A0M0J"}}
	}
	return c
}

// Body is the JSON a clerk's workstation sends for d.
func Body(d *cassiopee.Decision) []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // a Decision always encodes
	}
	return b
}

func clone(d *cassiopee.Decision) *cassiopee.Decision {
	var c cassiopee.Decision
	if err := json.Unmarshal(Body(d), &c); err != nil {
		panic(err) // what Body wrote reads back
	}
	return &c
}

// Transmission is one body a clerk sends, in a phase of a workload.
type Transmission struct {
	// Phase orders the sending: every transmission of a phase is sent (in any order,
	// concurrently) before the next phase starts.
	Phase int
	// Decision is what is sent, Body its JSON.
	Decision *cassiopee.Decision
	Body     []byte
	// Mistake is the mistake it carries ("" for a valid decision).
	Mistake string
	// Repeat is true for the exact repeat of an earlier transmission.
	Repeat bool
}

// Workload is n decisions of the generator's court as transmissions in three phases:
//
//  1. each decision at transmission 1, except the "late" ones (1 in 10) sent at once
//     at transmission 2;
//  2. a quarter of the decisions transmitted again, corrected (transmission 2), and
//     every mistake (mistakes of them, cycling through Mistakes);
//  3. the late decisions' transmission 1, arriving after their transmission 2 (stale),
//     and exact repeats of 1 in 20 decisions (the same receipt).
//
// Newest gives the transmission each decision must end at in PRISME.
func (g *Generator) Workload(n, mistakes int) (ts []Transmission, newest map[string]*cassiopee.Decision) {
	newest = map[string]*cassiopee.Decision{}
	for i := range n {
		d := g.Decision()
		npp := d.Jugement.NumeroParquet
		switch {
		case i%10 == 9:
			t2 := g.Retransmit(d)
			ts = append(ts, Transmission{Phase: 1, Decision: t2, Body: Body(t2)},
				Transmission{Phase: 3, Decision: d, Body: Body(d)})
			newest[npp] = t2
		case i%4 == 1:
			t2 := g.Retransmit(d)
			ts = append(ts, Transmission{Phase: 1, Decision: d, Body: Body(d)}, Transmission{Phase: 2, Decision: t2, Body: Body(t2)})
			newest[npp] = t2
		default:
			ts = append(ts, Transmission{Phase: 1, Decision: d, Body: Body(d)})
			if i%20 == 0 {
				ts = append(ts, Transmission{Phase: 3, Decision: d, Body: Body(d), Repeat: true})
			}
			newest[npp] = d
		}
		if i < mistakes {
			kind := Mistakes[i%len(Mistakes)]
			m := g.Mistake(d, kind)
			ts = append(ts, Transmission{Phase: 2, Decision: m, Body: Body(m), Mistake: kind})
		}
	}
	return ts, newest
}
