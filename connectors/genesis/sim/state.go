package sim

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// ficheKey identifies a fiche: numéro d'écrou + establishment.
type ficheKey struct {
	numeroEcrou       string
	codeEtablissement string
}

// State is what the simulated GENESIS holds: the current state of every fiche pénale
// and the movement feed. Every method is safe for concurrent use.
//
// Guarantees, as the WSDL states them: sequences increase; movements are never
// deleted; a fiche's version increases at every change made through State (the
// high-level methods, PutFiche and BumpVersion), so two reads of the same version are
// identical; a change and its movement are recorded together, under one lock, so a
// reader that sees the movement reads the changed fiche.
type State struct {
	mu         sync.Mutex
	fiches     map[ficheKey]*FichePenale
	mouvements []Mouvement
	lastSeq    int64
}

// NewState returns an empty State.
func NewState() *State {
	return &State{fiches: map[ficheKey]*FichePenale{}}
}

// dateOf is the xs:date of t in t's own location.
func dateOf(t time.Time) string { return t.Format(time.DateOnly) }

// AddMovement appends m to the feed as is: it may name a fiche the simulator does not
// hold (its ConsulterFichePenale then answers FicheInconnue). A zero Sequence gets the
// next one; a given Sequence must be above every earlier one (gaps are allowed, as in
// GENESIS). It returns the movement as stored.
func (s *State) AddMovement(m Mouvement) (Mouvement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked(m)
}

// appendLocked validates and appends m (s.mu held).
func (s *State) appendLocked(m Mouvement) (Mouvement, error) {
	switch m.Type {
	case Ecrou, LeveeEcrou, Transfert, MajFichePenale:
	default:
		return Mouvement{}, fmt.Errorf("%w: type %q is not in the WSDL", ErrInvalidMovement, m.Type)
	}
	if m.NumeroEcrou == "" || m.CodeEtablissement == "" {
		return Mouvement{}, fmt.Errorf("%w: numeroEcrou and codeEtablissement are required", ErrInvalidMovement)
	}
	if m.Horodatage.IsZero() {
		return Mouvement{}, fmt.Errorf("%w: horodatage is required", ErrInvalidMovement)
	}
	if m.Sequence == 0 {
		m.Sequence = s.lastSeq + 1
	} else if m.Sequence <= s.lastSeq {
		return Mouvement{}, fmt.Errorf("%w: sequence %d is not above %d", ErrInvalidMovement, m.Sequence, s.lastSeq)
	}
	s.lastSeq = m.Sequence
	s.mouvements = append(s.mouvements, m)
	return m, nil
}

// PutFiche stores f as the current state of its fiche, with the next version (1 for a
// new fiche; f.Version is ignored), and records no movement. It returns the fiche as
// stored.
func (s *State) PutFiche(f FichePenale) (FichePenale, error) {
	if f.NumeroEcrou == "" || f.CodeEtablissement == "" {
		return FichePenale{}, fmt.Errorf("%w: numeroEcrou and codeEtablissement are required", ErrInvalidFiche)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putLocked(f), nil
}

// putLocked stores a copy of f with the next version (s.mu held).
func (s *State) putLocked(f FichePenale) FichePenale {
	k := ficheKey{f.NumeroEcrou, f.CodeEtablissement}
	c := f.Clone()
	c.Version = 1
	if old, ok := s.fiches[k]; ok {
		c.Version = old.Version + 1
	}
	s.fiches[k] = &c
	return c.Clone()
}

// Ecrou commits a person: it creates the fiche f (version 1; DateEcrou defaults to
// at's date) and records an ECROU movement at time at.
func (s *State) Ecrou(f FichePenale, at time.Time) (Mouvement, error) {
	if f.NumeroEcrou == "" || f.CodeEtablissement == "" {
		return Mouvement{}, fmt.Errorf("%w: numeroEcrou and codeEtablissement are required", ErrInvalidFiche)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := ficheKey{f.NumeroEcrou, f.CodeEtablissement}
	if _, ok := s.fiches[k]; ok {
		return Mouvement{}, ErrFicheExists
	}
	if f.DateEcrou == "" {
		f.DateEcrou = dateOf(at)
	}
	f.DateLevee = ""
	m, err := s.appendLocked(Mouvement{NumeroEcrou: f.NumeroEcrou, CodeEtablissement: f.CodeEtablissement,
		Type: Ecrou, Horodatage: at})
	if err != nil {
		return Mouvement{}, err
	}
	s.putLocked(f)
	return m, nil
}

// MajFichePenale applies change to a copy of the fiche (its key and version are kept
// whatever change does), stores it with the next version and records a
// MAJ_FICHE_PENALE movement at time at.
func (s *State) MajFichePenale(numeroEcrou, codeEtablissement string, at time.Time, change func(*FichePenale)) (Mouvement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.fiches[ficheKey{numeroEcrou, codeEtablissement}]
	if !ok {
		return Mouvement{}, ErrFicheInconnue
	}
	f := old.Clone()
	if change != nil {
		change(&f)
	}
	f.NumeroEcrou, f.CodeEtablissement = numeroEcrou, codeEtablissement
	m, err := s.appendLocked(Mouvement{NumeroEcrou: numeroEcrou, CodeEtablissement: codeEtablissement,
		Type: MajFichePenale, Horodatage: at})
	if err != nil {
		return Mouvement{}, err
	}
	s.putLocked(f)
	return m, nil
}

// Transfert moves a person to dest: the origin fiche gets dateLevee (at's date) and a
// new version; a fiche is created at dest under numeroEcrouDestination (version 1,
// dateEcrou at's date, the same identity, convictions and reductions); the feed gets
// a TRANSFERT movement at the origin naming the destination, then an ECROU movement at
// the destination. It returns both movements.
func (s *State) Transfert(numeroEcrou, codeEtablissement string, dest Etablissement, numeroEcrouDestination string, at time.Time) ([]Mouvement, error) {
	if dest.Code == "" || numeroEcrouDestination == "" {
		return nil, fmt.Errorf("%w: the destination needs a code and a numéro d'écrou", ErrInvalidFiche)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	origin, ok := s.fiches[ficheKey{numeroEcrou, codeEtablissement}]
	if !ok {
		return nil, ErrFicheInconnue
	}
	if origin.DateLevee != "" {
		return nil, ErrEcrouLeve
	}
	if dest.Code == codeEtablissement {
		return nil, fmt.Errorf("%w: a transfer goes to another establishment", ErrInvalidFiche)
	}
	if _, ok := s.fiches[ficheKey{numeroEcrouDestination, dest.Code}]; ok {
		return nil, ErrFicheExists
	}
	out, err := s.appendLocked(Mouvement{NumeroEcrou: numeroEcrou, CodeEtablissement: codeEtablissement,
		Type: Transfert, Horodatage: at,
		CodeEtablissementDestination: dest.Code, NumeroEcrouDestination: numeroEcrouDestination})
	if err != nil {
		return nil, err
	}
	in, err := s.appendLocked(Mouvement{NumeroEcrou: numeroEcrouDestination, CodeEtablissement: dest.Code,
		Type: Ecrou, Horodatage: at})
	if err != nil {
		return nil, err
	}
	closed := origin.Clone()
	closed.DateLevee = dateOf(at)
	s.putLocked(closed)

	arrived := origin.Clone()
	arrived.NumeroEcrou, arrived.CodeEtablissement, arrived.LibelleEtablissement = numeroEcrouDestination, dest.Code, dest.Libelle
	arrived.DateEcrou, arrived.DateLevee = dateOf(at), ""
	s.putLocked(arrived)
	return []Mouvement{out, in}, nil
}

// LeveeEcrou releases a person: the fiche gets dateLevee (at's date) and a new
// version, and the feed a LEVEE_ECROU movement.
func (s *State) LeveeEcrou(numeroEcrou, codeEtablissement string, at time.Time) (Mouvement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.fiches[ficheKey{numeroEcrou, codeEtablissement}]
	if !ok {
		return Mouvement{}, ErrFicheInconnue
	}
	if old.DateLevee != "" {
		return Mouvement{}, ErrEcrouLeve
	}
	m, err := s.appendLocked(Mouvement{NumeroEcrou: numeroEcrou, CodeEtablissement: codeEtablissement,
		Type: LeveeEcrou, Horodatage: at})
	if err != nil {
		return Mouvement{}, err
	}
	f := old.Clone()
	f.DateLevee = dateOf(at)
	s.putLocked(f)
	return m, nil
}

// BumpVersion gives the fiche a new version without any other change and without a
// movement, as GENESIS does for internal corrections. It returns the new version.
func (s *State) BumpVersion(numeroEcrou, codeEtablissement string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fiches[ficheKey{numeroEcrou, codeEtablissement}]
	if !ok {
		return 0, ErrFicheInconnue
	}
	f.Version++
	return f.Version, nil
}

// RemoveFiche removes a fiche (its movements stay: movements are never deleted); its
// ConsulterFichePenale answers FicheInconnue from then on. It reports whether the
// fiche existed.
func (s *State) RemoveFiche(numeroEcrou, codeEtablissement string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := ficheKey{numeroEcrou, codeEtablissement}
	_, ok := s.fiches[k]
	delete(s.fiches, k)
	return ok
}

// Fiche returns a copy of the current state of a fiche.
func (s *State) Fiche(numeroEcrou, codeEtablissement string) (FichePenale, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fiches[ficheKey{numeroEcrou, codeEtablissement}]
	if !ok {
		return FichePenale{}, false
	}
	return f.Clone(), true
}

// Fiches returns a copy of every fiche, ordered by establishment then numéro d'écrou.
func (s *State) Fiches() []FichePenale {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]FichePenale, 0, len(s.fiches))
	for _, f := range s.fiches {
		out = append(out, f.Clone())
	}
	slices.SortFunc(out, func(a, b FichePenale) int {
		if a.CodeEtablissement != b.CodeEtablissement {
			if a.CodeEtablissement < b.CodeEtablissement {
				return -1
			}
			return 1
		}
		switch {
		case a.NumeroEcrou < b.NumeroEcrou:
			return -1
		case a.NumeroEcrou > b.NumeroEcrou:
			return 1
		}
		return 0
	})
	return out
}

// Mouvements returns a copy of the whole feed, in sequence order.
func (s *State) Mouvements() []Mouvement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mouvements)
}

// LastSequence is the sequence of the newest movement (0 when there is none).
func (s *State) LastSequence() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSeq
}

// page returns at most max movements after depuis (exclusive), and the movement just
// at or before depuis (for a repeat across pages), if any.
func (s *State) page(depuis int64, max int) (page []Mouvement, previous *Mouvement) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.mouvements), func(i int) bool { return s.mouvements[i].Sequence > depuis })
	end := min(len(s.mouvements), i+max)
	page = slices.Clone(s.mouvements[i:end])
	if i > 0 {
		p := s.mouvements[i-1]
		previous = &p
	}
	return page, previous
}
