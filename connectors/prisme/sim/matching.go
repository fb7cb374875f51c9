package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// person is what PRISME reads of a body's `personne` to match it with a dossier.
type person struct {
	nom           string
	prenoms       []string
	dateNaissance string
	ecrou         *Ecrou // both parts present
	appi          string
	parquets      []string
}

// How a person was matched.
const (
	matchedByEcrou    = "ecrou"
	matchedByAppi     = "appi"
	matchedByName     = "nom-naissance"
	matchedByCreation = "nouveau"
	matchedByHeld     = "deja-detenu" // a custody event already held: no matching
)

// registry holds the dossiers and their indexes. It is guarded by Server.mu.
type registry struct {
	seq    int
	order  []*Dossier
	ecrous map[Ecrou]*Dossier
	appi   map[string]*Dossier
	names  map[string][]*Dossier // nameKey → dossiers, oldest first
}

// newRegistry returns an empty registry.
func newRegistry() *registry {
	return &registry{ecrous: map[Ecrou]*Dossier{}, appi: map[string]*Dossier{}, names: map[string][]*Dossier{}}
}

// nameKey folds a last name and a birth date into a matching key: case, accents and
// repeated spaces do not matter (DUPONT, Dupont and DUPONT  match; LEFÈVRE matches
// LEFEVRE).
func nameKey(nom, dateNaissance string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(nom) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return strings.Join(strings.Fields(b.String()), " ") + "|" + dateNaissance
}

// find matches p with an existing dossier, without changing anything: own identifiers
// first (écrou, then APPI file number), then last name + birth date, skipping a
// dossier whose APPI number differs from p's (two people). A numéro parquet never
// matches: co-defendants share it. Among several name matches the oldest dossier wins.
func (g *registry) find(p person) (*Dossier, string) {
	if p.ecrou != nil {
		if d := g.ecrous[*p.ecrou]; d != nil {
			return d, matchedByEcrou
		}
	}
	if p.appi != "" {
		if d := g.appi[p.appi]; d != nil {
			return d, matchedByAppi
		}
	}
	for _, d := range g.names[nameKey(p.nom, p.dateNaissance)] {
		if p.appi != "" && d.NumeroDossierAppi != "" && d.NumeroDossierAppi != p.appi {
			continue
		}
		return d, matchedByName
	}
	return nil, ""
}

// matchOrCreate finds p's dossier or creates one, then attaches to it the identifiers
// it did not know yet. A dossier's id never changes.
func (g *registry) matchOrCreate(p person, now time.Time) (*Dossier, string) {
	d, by := g.find(p)
	if d == nil {
		d, by = g.create(p.nom, p.prenoms, p.dateNaissance, now), matchedByCreation
	}
	g.learn(d, p)
	return d, by
}

// create adds a new dossier.
func (g *registry) create(nom string, prenoms []string, dateNaissance string, now time.Time) *Dossier {
	g.seq++
	d := &Dossier{ID: fmt.Sprintf("D-%06d", g.seq), Nom: nom, Prenoms: slices.Clone(prenoms),
		DateNaissance: dateNaissance, CreeLe: now}
	g.order = append(g.order, d)
	k := nameKey(nom, dateNaissance)
	g.names[k] = append(g.names[k], d)
	return d
}

// learn attaches p's identifiers to d, unless another dossier already holds them.
func (g *registry) learn(d *Dossier, p person) {
	if p.ecrou != nil {
		if _, taken := g.ecrous[*p.ecrou]; !taken {
			g.ecrous[*p.ecrou] = d
			d.Ecrous = append(d.Ecrous, *p.ecrou)
		}
	}
	if p.appi != "" && d.NumeroDossierAppi == "" {
		if _, taken := g.appi[p.appi]; !taken {
			g.appi[p.appi] = d
			d.NumeroDossierAppi = p.appi
		}
	}
	for _, np := range p.parquets {
		if np != "" && !slices.Contains(d.NumerosParquet, np) {
			d.NumerosParquet = append(d.NumerosParquet, np)
		}
	}
}

// count is the number of dossiers.
func (g *registry) count() int { return len(g.order) }

// snapshot copies every dossier, oldest first.
func (g *registry) snapshot() []Dossier {
	out := make([]Dossier, len(g.order))
	for i, d := range g.order {
		c := *d
		c.Prenoms = slices.Clone(d.Prenoms)
		c.Ecrous = slices.Clone(d.Ecrous)
		c.NumerosParquet = slices.Clone(d.NumerosParquet)
		out[i] = c
	}
	return out
}
