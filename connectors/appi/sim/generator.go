package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Paris everywhere, so generated timestamps do not depend on the host
)

// The vocabulary of generated measures. Court labels, SPIP offices, establishment
// codes and names are illustrative (contracts/README.md, "Notes").

// ressort is a tribunal judiciaire with its SPIP antennes and a prison nearby.
type ressort struct {
	dept          string
	juridiction   string
	antennes      []string
	etablissement string
}

var ressorts = []ressort{
	{"69", "TJ LYON", []string{"SPIP 69 - antenne Lyon Sud", "SPIP 69 - antenne Lyon Nord"}, "FR0690"},
	{"69", "TJ VILLEFRANCHE-SUR-SAONE", []string{"SPIP 69 - antenne Villefranche"}, "FR0690"},
	{"38", "TJ GRENOBLE", []string{"SPIP 38 - antenne Grenoble", "SPIP 38 - antenne Voiron"}, "FR0380"},
	{"51", "TJ REIMS", []string{"SPIP 51 - antenne Reims"}, "FR0510"},
	{"54", "TJ NANCY", []string{"SPIP 54 - antenne Nancy", "SPIP 54 - antenne Briey"}, "FR0540"},
	{"67", "TJ STRASBOURG", []string{"SPIP 67 - antenne Strasbourg"}, "FR0670"},
	{"57", "TJ METZ", []string{"SPIP 57 - antenne Metz", "SPIP 57 - antenne Thionville"}, "FR0570"},
}

var (
	noms = []string{"MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
		"MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX", "VINCENT",
		"FOURNIER", "MOREL", "GIRARD", "ANDRE", "MERCIER", "BOUZIDI", "N'DIAYE", "DA SILVA", "LE GALL", "NGUYEN"}
	prenomsH = []string{"Julien", "Pierre", "Antoine", "José", "Karim", "Mehdi", "Thomas", "Nicolas", "Kevin",
		"Jean-Baptiste", "Youssef", "Loïc", "Hugo", "Mamadou", "François"}
	prenomsF = []string{"Nathalie", "Sophie", "Hélène", "Inès", "Camille", "Léa", "Fatima", "Aurélie", "Chloé",
		"Marie-Claire", "Sandrine", "Aïcha", "Océane"}
	japs = []string{"Mme Claire VASSEUR", "M. Olivier BRETON", "Mme Agnès FAURE", "M. Rachid HAMDI",
		"Mme Isabelle CARON", "M. Laurent PERRIN"}
)

// kindProfile describes how a kind of measure is decided and followed.
type kindProfile struct {
	code        string
	weight      int
	custody     bool // decided for a person in custody (écrou known)
	obligations []string
	minDays     int // length of the measure, in days
	maxDays     int
	beforeYear  int // decided before this year (SME), 0 when any
}

var kinds = []kindProfile{
	{"SP", 30, false, []string{"SOINS", "TRAVAIL", "FORMATION", "INDEMNISER_VICTIME", "INTERDICTION_CONTACT_VICTIME", "INTERDICTION_PARAITRE", "STAGE", "JUSTIFIER_PAIEMENT"}, 365, 1095, 0},
	{"TIG", 15, false, nil, 180, 540, 0},
	{"DDSE", 10, false, []string{"RESIDENCE", "TRAVAIL", "SOINS"}, 15, 180, 0},
	{"SL", 6, true, []string{"TRAVAIL", "FORMATION"}, 60, 365, 0},
	{"PE", 3, true, []string{"TRAVAIL", "FORMATION", "SOINS"}, 60, 365, 0},
	{"LC", 7, true, []string{"TRAVAIL", "RESIDENCE", "SOINS", "INDEMNISER_VICTIME", "INTERDICTION_PARAITRE"}, 180, 1095, 0},
	{"LSC", 7, true, []string{"RESIDENCE", "TRAVAIL"}, 30, 180, 0},
	{"SSJ", 4, false, []string{"SOINS", "INTERDICTION_CONTACT_VICTIME", "INTERDICTION_PARAITRE"}, 1825, 3650, 0},
	{"SME", 4, false, []string{"SOINS", "TRAVAIL", "INDEMNISER_VICTIME"}, 730, 1095, 2020},
	{"CJ", 8, false, []string{"INTERDICTION_CONTACT_VICTIME", "RESIDENCE", "SOINS", "AUTRE"}, 90, 365, 0},
	{"AEM", 6, false, []string{"SOINS", "TRAVAIL", "STAGE"}, 120, 365, 0},
}

// GeneratorOptions configure a Generator. The zero value is usable.
type GeneratorOptions struct {
	// Seed makes the histories reproducible. Default 1.
	Seed uint64
	// Start is the time of the first change. Default Monday 2 September 2024, 09:00,
	// Europe/Paris.
	Start time.Time
	// People is the number of people the measures are about; each has one to three
	// measures over time. Default 50.
	People int
	// Homonyms is how many of those people share the name, first names and birth date
	// of another, each with an APPI file of their own: two people, as any national
	// file holds, that a hub must not merge by itself (the demo shows its review).
	// Default 0.
	Homonyms int
}

// person is a generated person under APPI's follow-up.
type person struct {
	nom, prenoms, naissance, dossier string
	parquets                         []string
	ecrou                            *string
	ressort                          int
	measured                         bool // has a measure already
}

// measure is the current state of a generated measure.
type measure struct {
	row    Mesure
	person int
	days   int
	done   bool
}

// Generator makes realistic measure histories (see the package doc). Everything it
// makes depends only on its options. It is not safe for concurrent use.
type Generator struct {
	opts    GeneratorOptions
	rng     *rand.Rand
	clock   time.Time
	people  []person
	created int // measures created so far (their states live in open until done)
	// originals are the people with a measure who are nobody's homonym, in the order
	// of their first measure; homonyms counts the homonyms made.
	originals []int
	homonyms  int
	open      []*measure
	counter   map[string]int
}

// NewGenerator returns a generator configured by opts (zero fields take defaults).
func NewGenerator(opts GeneratorOptions) *Generator {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Start.IsZero() {
		loc, err := time.LoadLocation("Europe/Paris")
		if err != nil { // cannot happen: time/tzdata is embedded
			loc = time.FixedZone("CET", 3600)
		}
		opts.Start = time.Date(2024, time.September, 2, 9, 0, 0, 0, loc)
	}
	if opts.People <= 0 {
		opts.People = 50
	}
	g := &Generator{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		clock: opts.Start.Truncate(time.Second), counter: map[string]int{}}
	for range opts.People {
		g.people = append(g.people, g.newPerson())
	}
	return g
}

// Now is the generator's clock: the maj_le of the last change it made.
func (g *Generator) Now() time.Time { return g.clock }

// Rows returns the next n changes, in the order APPI writes them.
func (g *Generator) Rows(n int) []*Mesure {
	out := make([]*Mesure, 0, n)
	for range n {
		out = append(out, g.Next())
	}
	return out
}

// Next returns the next change: a new measure (for a person who has fewer than three)
// or a status change of an open one, as a full row of the measure's new state.
func (g *Generator) Next() *Mesure {
	g.clock = g.clock.Add(time.Duration(5+g.rng.IntN(240)) * time.Minute)
	return g.change()
}

// NextAt is Next for a change made at t (a live feed): the clock moves to t, unless
// it is already later.
func (g *Generator) NextAt(t time.Time) *Mesure {
	if t = t.Truncate(time.Microsecond); t.After(g.clock) {
		g.clock = t
	}
	return g.change()
}

// change makes the change at the current clock.
func (g *Generator) change() *Mesure {
	if len(g.open) == 0 || (g.created < 3*len(g.people) && g.rng.IntN(3) == 0) {
		return g.create()
	}
	i := g.rng.IntN(len(g.open))
	m := g.open[i]
	if g.rng.IntN(25) > 0 { // otherwise APPI exports the same state again: a duplicate under a new seq
		g.advance(m)
	}
	if m.done {
		g.open = append(g.open[:i], g.open[i+1:]...)
	}
	r := m.row
	r.MajLe = g.clock
	return &r
}

// newPerson makes a person with an APPI file number of the modern form.
func (g *Generator) newPerson() person {
	female := g.rng.IntN(4) == 0
	pool := prenomsH
	if female {
		pool = prenomsF
	}
	n := 1 + g.rng.IntN(3)
	names := make([]string, 0, n)
	for len(names) < n {
		p := pool[g.rng.IntN(len(pool))]
		if !strings.Contains(strings.Join(names, " "), p) {
			names = append(names, p)
		}
	}
	birth := time.Date(1955+g.rng.IntN(50), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, time.UTC)
	year := 2015 + g.rng.IntN(10)
	p := person{
		nom:       noms[g.rng.IntN(len(noms))],
		prenoms:   strings.Join(names, " "),
		naissance: birth.Format(time.DateOnly),
		dossier:   fmt.Sprintf("%04d%08d", year, g.rng.IntN(100_000_000)),
		ressort:   g.rng.IntN(len(ressorts)),
	}
	for range g.rng.IntN(3) {
		p.parquets = append(p.parquets, fmt.Sprintf("%02d%03d%06d", year%100, 1+g.rng.IntN(366), g.rng.IntN(1_000_000)))
	}
	return p
}

// pickKind draws a kind of measure by weight.
func (g *Generator) pickKind() kindProfile {
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	n := g.rng.IntN(total)
	for _, k := range kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return kinds[0]
}

// create decides a new measure, waiting to be taken in charge.
func (g *Generator) create() *Mesure {
	pi := g.rng.IntN(len(g.people))
	p := &g.people[pi]
	if !p.measured {
		// A homonym takes the name and birth date of someone APPI already follows, at
		// its first measure: the pair is there from the start of the history.
		p.measured = true
		if g.homonyms < g.opts.Homonyms && len(g.originals) > g.homonyms {
			of := g.people[g.originals[g.homonyms]]
			p.nom, p.prenoms, p.naissance = of.nom, of.prenoms, of.naissance
			g.homonyms++
		} else {
			g.originals = append(g.originals, pi)
		}
	}
	rs := ressorts[p.ressort]
	k := g.pickKind()
	decision := g.clock.AddDate(0, 0, -g.rng.IntN(60))
	if k.beforeYear > 0 {
		decision = time.Date(k.beforeYear-1-g.rng.IntN(3), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, time.UTC)
	}
	year := decision.Year()
	key := rs.dept + "-" + fmt.Sprint(year)
	g.counter[key]++
	r := Mesure{
		NumeroMesure:  fmt.Sprintf("M-%s-%d-%06d", rs.dept, year, g.counter[key]*7+g.rng.IntN(7)),
		NumeroDossier: p.dossier,
		Nom:           p.nom,
		Prenoms:       p.prenoms,
		DateNaissance: p.naissance,
		TypeMesure:    k.code,
		Juridiction:   rs.juridiction,
		DateDecision:  decision.Format(time.DateOnly),
		Statut:        "A_PRENDRE_EN_CHARGE",
		MajLe:         g.clock,
	}
	if len(p.parquets) > 0 && k.code != "LSC" {
		r.NumeroParquet = Str(p.parquets[g.rng.IntN(len(p.parquets))])
	}
	if k.custody {
		if p.ecrou == nil {
			p.ecrou = Str(fmt.Sprintf("%02d-%04d", year%100, g.rng.IntN(10000)))
		}
		r.NumeroEcrou, r.CodeEtablissement = p.ecrou, Str(rs.etablissement)
	}
	if g.rng.IntN(10) > 0 {
		r.JAP = Str(japs[g.rng.IntN(len(japs))])
	}
	if g.rng.IntN(8) > 0 {
		r.SPIPAntenne = Str(rs.antennes[g.rng.IntN(len(rs.antennes))])
	}
	r.Obligations = g.obligations(k)
	switch {
	case k.code == "TIG":
		r.Observations = Str(fmt.Sprintf("TIG de %d heures à effectuer dans un délai de 18 mois", 20+g.rng.IntN(381)))
	case k.code == "DDSE" && g.rng.IntN(2) == 0:
		r.Observations = Str("Assignation au domicile de 20h à 7h, sorties autorisées pour le travail")
	case g.rng.IntN(6) == 0:
		r.Observations = Str("Situation à revoir lors du prochain débat contradictoire")
	}
	m := &measure{row: r, person: pi, days: k.minDays + g.rng.IntN(k.maxDays-k.minDays+1)}
	g.created++
	g.open = append(g.open, m)
	out := r
	return &out
}

// obligations draws the obligations of a new measure: NULL or ” when none (APPI
// writes both), else one to three codes separated by ';'.
func (g *Generator) obligations(k kindProfile) *string {
	if len(k.obligations) == 0 || g.rng.IntN(5) == 0 {
		if g.rng.IntN(2) == 0 {
			return nil
		}
		return Str("")
	}
	var codes []string
	if k.code == "SSJ" {
		codes = append(codes, "SOINS") // the injonction de soins of a suivi socio-judiciaire
	}
	for range 1 + g.rng.IntN(3) {
		c := k.obligations[g.rng.IntN(len(k.obligations))]
		if !strings.Contains(";"+strings.Join(codes, ";")+";", ";"+c+";") {
			codes = append(codes, c)
		}
	}
	return Str(strings.Join(codes, ";"))
}

// advance changes the state of an open measure, as the JAP and the SPIP do:
// taken in charge (start and end dates), suspended (an incarceration) and resumed,
// obligations modified, ended, revoked, archived.
func (g *Generator) advance(m *measure) {
	r := &m.row
	today := g.clock.Format(time.DateOnly)
	switch r.Statut {
	case "A_PRENDRE_EN_CHARGE":
		r.Statut = "EN_COURS"
		r.DateDebut = today
		if r.TypeMesure != "CJ" || g.rng.IntN(2) == 0 {
			r.DateFin = g.clock.AddDate(0, 0, m.days).Format(time.DateOnly)
		}
		if r.SPIPAntenne == nil {
			r.SPIPAntenne = Str(ressorts[g.people[m.person].ressort].antennes[0])
		}
	case "EN_COURS":
		switch n := g.rng.IntN(10); {
		case n < 2:
			r.Statut = "SUSPENDUE"
			r.Observations = Str("Suspension : incarcération pour autre cause")
		case n < 4 && r.Obligations != nil && *r.Obligations != "":
			k := kindOf(r.TypeMesure)
			r.Obligations = g.obligations(k) // the JAP modifies the obligations
		case n < 5:
			r.Statut = "REVOQUEE"
			r.DateFin = today
		default:
			r.Statut = "TERMINEE"
		}
	case "SUSPENDUE":
		if g.rng.IntN(3) == 0 {
			r.Statut = "REVOQUEE"
			r.DateFin = today
		} else {
			r.Statut = "EN_COURS"
			r.Observations = nil
		}
	case "TERMINEE", "REVOQUEE":
		r.Statut = "ARCHIVEE"
		m.done = true
	default:
		m.done = true
	}
}

// kindOf returns the profile of a kind code.
func kindOf(code string) kindProfile {
	for _, k := range kinds {
		if k.code == code {
			return k
		}
	}
	return kinds[0]
}
