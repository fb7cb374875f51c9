package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Paris everywhere, so generated timestamps do not depend on the host
)

// GeneratorOptions configure a Generator. The zero value is usable.
type GeneratorOptions struct {
	// Seed makes the generated data reproducible. Default: 1.
	Seed uint64
	// Start is when the generated week begins. Default: Monday 4 March 2024, 08:00,
	// Europe/Paris. Timestamps are in Start's location.
	Start time.Time
	// Etablissements are the establishments. Default: DefaultEtablissements. At least
	// two are needed for transfers.
	Etablissements []Etablissement
	// Population is the number of people already in custody when the week begins:
	// their fiches exist (at various versions) but their committals are older than the
	// feed, as when a consumer connects to a running GENESIS. Default: 40.
	Population int
	// EventsPerDay is the mean number of events per day (each event is one or two
	// movements). Default: 40.
	EventsPerDay int
}

// Generator makes a realistic prison week in a State: committals (ECROU) of people on
// remand or convicted, with identities, convictions (NATINF offences, EMPRISONNEMENT
// with a partie sursis, RECLUSION_CRIMINELLE, revocations), reductions (RP, RPS,
// RETRAIT) and projected release dates; updates (MAJ_FICHE_PENALE) when a person on
// remand is judged or a reduction is granted or withdrawn; transfers (TRANSFERT then
// ECROU at the destination with a new numéro d'écrou); releases (LEVEE_ECROU, with
// dateLevee). Everything it makes depends only on its options: the same seed gives the
// same week. A Generator is not safe for concurrent use; the State it writes to is.
type Generator struct {
	opts    GeneratorOptions
	rng     *rand.Rand
	clock   time.Time
	active  []ficheKey // open écrous, in committal order
	counter map[string]int
	libelle map[string]string
}

// defaultStart is Monday 4 March 2024, 08:00 in Paris.
func defaultStart() time.Time {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil { // cannot happen: time/tzdata is embedded
		loc = time.FixedZone("CET", 3600)
	}
	return time.Date(2024, time.March, 4, 8, 0, 0, 0, loc)
}

// NewGenerator returns a generator configured by opts (zero fields take defaults).
func NewGenerator(opts GeneratorOptions) *Generator {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Start.IsZero() {
		opts.Start = defaultStart()
	}
	if len(opts.Etablissements) == 0 {
		opts.Etablissements = DefaultEtablissements
	}
	if opts.Population <= 0 {
		opts.Population = 40
	}
	if opts.EventsPerDay <= 0 {
		opts.EventsPerDay = 40
	}
	g := &Generator{
		opts:    opts,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed*0x2545f4914f6cdd1d+1)),
		clock:   opts.Start.Truncate(time.Second),
		counter: map[string]int{},
		libelle: map[string]string{},
	}
	for _, e := range opts.Etablissements {
		g.counter[e.Code] = 20000 + g.rng.IntN(60000)
		g.libelle[e.Code] = e.Libelle
	}
	return g
}

// Now is the generator's clock: the timestamp of the last event it made.
func (g *Generator) Now() time.Time { return g.clock }

// Week fills s with the population already in custody, then with seven days of
// events from Start, and returns the movements added in sequence order.
func (g *Generator) Week(s *State) ([]Mouvement, error) {
	if err := g.Populate(s); err != nil {
		return nil, err
	}
	end := g.opts.Start.AddDate(0, 0, 7)
	var out []Mouvement
	for {
		ms, err := g.Next(s)
		if err != nil {
			return out, err
		}
		out = append(out, ms...)
		if !g.clock.Before(end) {
			return out, nil
		}
	}
}

// Populate creates the fiches of the people already in custody when the week begins
// (Options.Population of them), without movements: their committals are older than the
// feed. Some have been updated since, so their versions are above 1.
func (g *Generator) Populate(s *State) error {
	today := dateOf(g.opts.Start)
	for range g.opts.Population {
		e := g.pickEtablissement("")
		var f FichePenale
		// Someone still in custody is not past their projected release date: draw
		// again (a bounded number of times) when the draw says otherwise.
		for try := 0; try == 0 || (try < 20 && f.DateLiberationPrevisionnelle != "" && f.DateLiberationPrevisionnelle <= today); try++ {
			ecrouAt := g.opts.Start.AddDate(0, 0, -(7 + g.rng.IntN(700)))
			var err error
			if f, err = g.newFiche(s, e, ecrouAt); err != nil {
				return err
			}
		}
		stored, err := s.PutFiche(f)
		if err != nil {
			return fmt.Errorf("genesis sim: populate: %w", err)
		}
		for range g.rng.IntN(3) { // earlier updates: versions above 1
			if _, err := s.PutFiche(stored); err != nil {
				return fmt.Errorf("genesis sim: populate: %w", err)
			}
		}
		g.active = append(g.active, ficheKey{f.NumeroEcrou, f.CodeEtablissement})
	}
	return nil
}

// Next advances the clock and makes one event: a committal, an update, a transfer
// (two movements) or a release. It returns the movements added.
func (g *Generator) Next(s *State) ([]Mouvement, error) {
	g.advance()
	r := g.rng.IntN(100)
	switch {
	case len(g.active) == 0 || r < 28:
		m, err := g.ecrou(s)
		return []Mouvement{m}, err
	case r < 62:
		m, err := g.maj(s)
		return []Mouvement{m}, err
	case r < 72 && len(g.opts.Etablissements) > 1:
		return g.transfert(s)
	default:
		m, err := g.levee(s)
		return []Mouvement{m}, err
	}
}

// advance moves the clock to the next event: office hours 08:00–19:00, a mean gap of
// eleven hours divided by EventsPerDay.
func (g *Generator) advance() {
	mean := 11 * time.Hour / time.Duration(g.opts.EventsPerDay)
	gap := mean/2 + time.Duration(g.rng.Int64N(int64(mean)))
	t := g.clock.Add(gap).Truncate(time.Second)
	if t.Hour() >= 19 || t.Hour() < 8 {
		next := t
		if t.Hour() >= 19 {
			next = t.AddDate(0, 0, 1)
		}
		t = time.Date(next.Year(), next.Month(), next.Day(), 8, 0, 0, 0, t.Location()).
			Add(time.Duration(g.rng.IntN(1800)) * time.Second)
	}
	g.clock = t
}

// pickEtablissement returns a random establishment other than the one coded except.
func (g *Generator) pickEtablissement(except string) Etablissement {
	for {
		e := g.opts.Etablissements[g.rng.IntN(len(g.opts.Etablissements))]
		if e.Code != except || len(g.opts.Etablissements) == 1 {
			return e
		}
	}
}

// nextNumero returns a numéro d'écrou not yet used at e.
func (g *Generator) nextNumero(s *State, code string) string {
	for {
		g.counter[code]++
		n := strconv.Itoa(g.counter[code])
		if _, exists := s.Fiche(n, code); !exists {
			return n
		}
	}
}

// ecrou commits a new person at a random establishment.
func (g *Generator) ecrou(s *State) (Mouvement, error) {
	e := g.pickEtablissement("")
	f, err := g.newFiche(s, e, g.clock)
	if err != nil {
		return Mouvement{}, err
	}
	m, err := s.Ecrou(f, g.clock)
	if err != nil {
		return Mouvement{}, fmt.Errorf("genesis sim: generate ECROU: %w", err)
	}
	g.active = append(g.active, ficheKey{f.NumeroEcrou, f.CodeEtablissement})
	return m, nil
}

// pickActive returns the index of a random open écrou.
func (g *Generator) pickActive() int { return g.rng.IntN(len(g.active)) }

// maj updates a random open fiche: a judgment for a person on remand, else a
// reduction granted or withdrawn.
func (g *Generator) maj(s *State) (Mouvement, error) {
	k := g.active[g.pickActive()]
	today := dateOf(g.clock)
	m, err := s.MajFichePenale(k.numeroEcrou, k.codeEtablissement, g.clock, func(f *FichePenale) {
		switch {
		case f.Statut == Prevenu || (f.Statut == Mixte && g.rng.IntN(2) == 0):
			c := g.condamnation(k.codeEtablissement, today, f.DateEcrou)
			f.Condamnations = append(f.Condamnations, c)
			f.Statut = Condamne
			if g.rng.IntN(5) == 0 {
				f.Statut = Mixte // judged here, still on remand in another case
			}
		default:
			f.Reductions = append(f.Reductions, g.reduction(today))
		}
		g.recompute(f)
	})
	if err != nil {
		return Mouvement{}, fmt.Errorf("genesis sim: generate MAJ_FICHE_PENALE: %w", err)
	}
	return m, nil
}

// transfert moves a random open écrou to another establishment.
func (g *Generator) transfert(s *State) ([]Mouvement, error) {
	i := g.pickActive()
	k := g.active[i]
	dest := g.pickEtablissement(k.codeEtablissement)
	numero := g.nextNumero(s, dest.Code)
	ms, err := s.Transfert(k.numeroEcrou, k.codeEtablissement, dest, numero, g.clock)
	if err != nil {
		return nil, fmt.Errorf("genesis sim: generate TRANSFERT: %w", err)
	}
	g.active[i] = ficheKey{numero, dest.Code}
	return ms, nil
}

// levee releases a random open écrou.
func (g *Generator) levee(s *State) (Mouvement, error) {
	i := g.pickActive()
	k := g.active[i]
	m, err := s.LeveeEcrou(k.numeroEcrou, k.codeEtablissement, g.clock)
	if err != nil {
		return Mouvement{}, fmt.Errorf("genesis sim: generate LEVEE_ECROU: %w", err)
	}
	g.active = slices.Delete(g.active, i, i+1)
	return m, nil
}

// newFiche makes the fiche of a person committed at e on ecrouAt.
func (g *Generator) newFiche(s *State, e Etablissement, ecrouAt time.Time) (FichePenale, error) {
	if e.Code == "" {
		return FichePenale{}, errors.New("genesis sim: generate: an establishment has no code")
	}
	dateEcrou := dateOf(ecrouAt)
	f := FichePenale{
		NumeroEcrou:          g.nextNumero(s, e.Code),
		CodeEtablissement:    e.Code,
		LibelleEtablissement: e.Libelle,
		Identite:             g.person(ecrouAt),
		DateEcrou:            dateEcrou,
	}
	switch r := g.rng.IntN(100); {
	case r < 35:
		f.Statut = Prevenu
	case r < 90:
		f.Statut = Condamne
	default:
		f.Statut = Mixte
	}
	if f.Statut != Prevenu {
		for range 1 + g.rng.IntN(2) {
			decision := addDays(dateEcrou, -g.rng.IntN(300))
			f.Condamnations = append(f.Condamnations, g.condamnation(e.Code, decision, dateEcrou))
		}
		if g.opts.Start.Sub(ecrouAt) > 90*24*time.Hour && g.rng.IntN(3) > 0 {
			f.Reductions = append(f.Reductions, g.reduction(addDays(dateEcrou, 30+g.rng.IntN(60))))
		}
	}
	g.recompute(&f)
	return f, nil
}

// person makes the identity of a person aged 18 to 70 at t.
func (g *Generator) person(t time.Time) Identite {
	id := Identite{Sexe: "M"}
	prenoms := prenomsM
	if g.rng.IntN(100) < 4 { // about 4 % of the people in custody are women
		id.Sexe, prenoms = "F", prenomsF
	}
	id.Nom = nomsFamille[g.rng.IntN(len(nomsFamille))]
	n := 1 + g.rng.IntN(3)
	names := make([]string, 0, n)
	for len(names) < n {
		p := prenoms[g.rng.IntN(len(prenoms))]
		if !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	id.Prenoms = strings.Join(names, " ")
	if id.Sexe == "F" && g.rng.IntN(3) == 0 {
		id.NomUsage = nomsFamille[g.rng.IntN(len(nomsFamille))]
	}
	born := t.AddDate(-(18 + g.rng.IntN(52)), 0, -g.rng.IntN(365))
	id.DateNaissance = dateOf(born)
	if g.rng.IntN(10) > 0 {
		id.LieuNaissance = lieuxNaissance[g.rng.IntN(len(lieuxNaissance))]
	}
	switch {
	case strings.Contains(id.LieuNaissance, "("):
		if g.rng.IntN(10) < 6 {
			id.Nationalite = nationalitesEtrangeres[g.rng.IntN(len(nationalitesEtrangeres))]
		} else {
			id.Nationalite = "FRA"
		}
	case g.rng.IntN(10) == 0:
		// nationality not recorded
	case g.rng.IntN(12) == 0:
		id.Nationalite = nationalitesEtrangeres[g.rng.IntN(len(nationalitesEtrangeres))]
	default:
		id.Nationalite = "FRA"
	}
	return id
}

// condamnation makes a conviction pronounced on decision by the courts of the
// establishment coded etab, executed from max(decision, dateEcrou).
func (g *Generator) condamnation(etab, decision, dateEcrou string) Condamnation {
	courts, ok := juridictions[etab]
	if !ok {
		courts = [3]string{"TJ PARIS", "CA PARIS", "COUR D'ASSISES DE PARIS"}
	}
	year := decision[:4]
	c := Condamnation{DateDecision: decision}
	crime := g.rng.IntN(100) < 10
	var offences []offence
	switch {
	case crime:
		c.Juridiction, c.NatureDecision = courts[2], "ARRET"
		offences = []offence{crimes[g.rng.IntN(len(crimes))]}
	case g.rng.IntN(100) < 15:
		c.Juridiction, c.NatureDecision = courts[1], "ARRET"
	default:
		c.Juridiction, c.NatureDecision = courts[0], "JUGEMENT"
	}
	for n := 1 + g.rng.IntN(3); len(offences) < n; {
		o := delits[g.rng.IntN(len(delits))]
		if !slices.ContainsFunc(offences, func(x offence) bool { return x.natinf == o.natinf }) {
			offences = append(offences, o)
		}
	}
	court := strings.NewReplacer(" ", "", "'", "", "-", "").Replace(c.Juridiction)
	if len(court) > 12 {
		court = court[:12]
	}
	c.ReferenceDecision = fmt.Sprintf("%s-%s-%06d", court, year, 1+g.rng.IntN(999999))
	if g.rng.IntN(100) < 85 {
		c.NumeroParquet = year[2:] + fmt.Sprintf("%09d", g.rng.IntN(1_000_000_000))
	}
	for _, o := range offences {
		inf := Infraction{CodeNatinf: o.natinf, Libelle: o.label}
		if g.rng.IntN(10) > 0 {
			inf.DateFaits = addDays(decision, -(20 + g.rng.IntN(500)))
		}
		c.Infractions = append(c.Infractions, inf)
	}

	debut := max(decision, dateEcrou) // ISO dates order as strings
	var p Peine
	if crime {
		p = Peine{Nature: ReclusionCriminelle, Quantum: Quantum{Annees: 8 + g.rng.IntN(13)}}
	} else {
		p = Peine{Nature: Emprisonnement}
		months := 2 + g.rng.IntN(35)
		if months%12 == 0 || g.rng.IntN(3) > 0 {
			p.Quantum = Quantum{Annees: months / 12, Mois: months % 12}
		} else {
			p.Quantum = Quantum{Mois: months} // "18 mois" as pronounced, never normalised
		}
		if g.rng.IntN(10) < 3 && months > 3 {
			sursis := Quantum{Mois: 1 + g.rng.IntN(months/2)}
			p.PartieSursis = &sursis
		}
	}
	p.DateDebutExecution = debut
	p.DateFinPeine = endOf(debut, p.Quantum, p.PartieSursis)
	c.Peines = append(c.Peines, p)
	if !crime && g.rng.IntN(100) < 8 {
		rev := Peine{Nature: RevocationSursis, Quantum: Quantum{Mois: 2 + g.rng.IntN(5)}}
		rev.DateDebutExecution = p.DateFinPeine
		rev.DateFinPeine = endOf(rev.DateDebutExecution, rev.Quantum, nil)
		c.Peines = append(c.Peines, rev)
	}
	return c
}

// reduction makes a reduction decided on date: mostly RP, some RPS, a few RETRAIT.
func (g *Generator) reduction(date string) Reduction {
	switch r := g.rng.IntN(100); {
	case r < 70:
		return Reduction{Type: ReductionRP, Jours: 7 * (1 + g.rng.IntN(12)), DateDecision: date}
	case r < 88:
		return Reduction{Type: ReductionRPS, Jours: 5 + g.rng.IntN(40), DateDecision: date}
	default:
		return Reduction{Type: ReductionRetrait, Jours: 5 + g.rng.IntN(26), DateDecision: date}
	}
}

// recompute sets the projected release date (the end of the last sentence minus the
// net reductions) and, after a réclusion, the end of the safety period (half of it).
func (g *Generator) recompute(f *FichePenale) {
	last, surete := "", ""
	for _, c := range f.Condamnations {
		for _, p := range c.Peines {
			last = max(last, p.DateFinPeine)
			if p.Nature == ReclusionCriminelle {
				half := Quantum{Annees: p.Quantum.Annees / 2, Mois: 6 * (p.Quantum.Annees % 2)}
				surete = max(surete, endOf(p.DateDebutExecution, half, nil))
			}
		}
	}
	if last == "" {
		f.DateLiberationPrevisionnelle, f.FinPeriodeSurete = "", ""
		return
	}
	net := 0
	for _, r := range f.Reductions {
		if r.Type == ReductionRetrait {
			net -= r.Jours
		} else {
			net += r.Jours
		}
	}
	f.DateLiberationPrevisionnelle = max(addDays(last, -net), surete)
	f.FinPeriodeSurete = surete
}

// addDays adds n days to an ISO date.
func addDays(date string, n int) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return date
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

// endOf is the last day of a sentence of q (minus its suspended part) started on debut.
func endOf(debut string, q Quantum, sursis *Quantum) string {
	t, err := time.Parse(time.DateOnly, debut)
	if err != nil {
		return debut
	}
	t = t.AddDate(q.Annees, q.Mois, q.Jours)
	if sursis != nil {
		t = t.AddDate(-sursis.Annees, -sursis.Mois, -sursis.Jours)
	}
	return t.AddDate(0, 0, -1).Format(time.DateOnly)
}
