package sim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Vocabulary of the generated events (Grand Est, where PRISME is trialled).
var (
	genNoms = []string{"MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND",
		"DUBOIS", "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "MÜLLER",
		"SCHMITT", "KLEIN", "WEBER", "MEYER"}
	genPrenomsM = []string{"Lucas", "Hugo", "Karim", "Julien", "Thomas", "Mehdi", "Nicolas", "Kevin", "Yann", "Marc"}
	genPrenomsF = []string{"Léa", "Camille", "Inès", "Sarah", "Julie", "Manon", "Aïcha", "Laura", "Emma", "Chloé"}
	genTJ       = []string{"TJ NANCY", "TJ METZ", "TJ STRASBOURG", "TJ REIMS", "TJ MULHOUSE", "TJ COLMAR",
		"TJ TROYES", "TJ ÉPINAL", "TJ CHARLEVILLE-MÉZIÈRES"}
	genMotifs       = []string{"DEMENAGEMENT", "INCARCERATION", "AUTRE"}
	genTypesMesure  = []string{"SP", "TIG", "DDSE", "LC", "LSC", "SSJ", "SL"}
	genObligations  = []string{"SOINS", "TRAVAIL", "FORMATION", "INDEMNISER_VICTIME", "RESIDENCE", "STAGE"}
	genTypesRapport = []string{"RAPPORT_ANNUEL", "RAPPORT_INCIDENT", "RAPPORT_FIN_MESURE", "PRE_SENTENCIEL"}
	genPieces       = []struct{ titre, typ string }{
		{"Jugement de condamnation", "JUGEMENT"}, {"Ordonnance du JAP", "ORDONNANCE"},
		{"Rapport d'évaluation initiale", "RAPPORT"}, {"Attestation de domicile", "JUSTIFICATIF"},
		{"Procès-verbal de notification des obligations", "PV"},
	}
	genDPIP = []string{"C. FONTAINE (DPIP)", "A. GIRARD (DPIP)", "S. BONNET (DPIP)", "N. FRANÇOIS (DPIP)"}
)

// pick returns a random element of xs (s.mu held).
func pick[T any](s *Server, xs []T) T { return xs[s.rng.IntN(len(xs))] }

// GenerateEvents adds n realistic outgoing events: case transfers (with the SPIP's
// interview notes and next appointment, which the hub must drop, and documents with
// the real SHA-256 of generated content) and validated reports (a document whose
// base64 content matches its sha256 and taille). Half of them, when PRISME holds
// dossiers, concern a person partners pushed; the others a person PRISME alone knew.
// Generation is reproducible for a given Options.Seed and clock, event ids included
// (UUIDs drawn from a source of their own, so that the rest of the sequence does not
// depend on them). Obligations use the vocabulary the partner systems share
// (Cassiopée's, which APPI and the canonical model use too).
func (s *Server) GenerateEvents(n int) ([]Evenement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Evenement, 0, n)
	for range n {
		d := s.genDossier()
		var ev Evenement
		if s.rng.IntN(5) < 3 {
			ev = s.genDessaisissement(d)
		} else {
			ev = s.genRapport(d)
		}
		ev.ID = s.genEventID()
		stored, err := s.addEventLocked(ev)
		if err != nil {
			return out, fmt.Errorf("prisme sim: generate event: %w", err)
		}
		out = append(out, stored)
	}
	return out, nil
}

// genEventID draws a version 4 UUID from the simulator's id source (s.mu held).
func (s *Server) genEventID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.idRNG.Uint64())
	binary.BigEndian.PutUint64(b[8:], s.idRNG.Uint64())
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return uuid.UUID(b).String()
}

// RunGenerator adds one generated event every `every` until ctx ends (for the demo).
// It returns nil when ctx ends, or the error that stopped it.
func (s *Server) RunGenerator(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("prisme sim: generator interval must be positive, got %s", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := s.GenerateEvents(1); err != nil {
				return err
			}
		}
	}
}

// PieceContent returns the generated document whose hex SHA-256 is sha (a piece of a
// case transfer or a report), so that a test can check what a hash stands for.
func (s *Server) PieceContent(sha string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.pieces[sha]
	return slices.Clone(b), ok
}

// genDossier picks a dossier partners created, or creates one PRISME alone knows.
func (s *Server) genDossier() *Dossier {
	if s.people.count() > 0 && s.rng.IntN(2) == 0 {
		return s.people.order[s.rng.IntN(s.people.count())]
	}
	prenoms := genPrenomsM
	if s.rng.IntN(2) == 0 {
		prenoms = genPrenomsF
	}
	first := []string{pick(s, prenoms)}
	if s.rng.IntN(3) == 0 {
		first = append(first, pick(s, prenoms))
	}
	birth := time.Date(1960+s.rng.IntN(45), time.Month(1+s.rng.IntN(12)), 1+s.rng.IntN(28), 0, 0, 0, 0, time.UTC)
	d := s.people.create(pick(s, genNoms), first, birth.Format(time.DateOnly), s.now().UTC())
	appi := fmt.Sprintf("202%09d", s.rng.IntN(1_000_000_000))
	if _, taken := s.people.appi[appi]; !taken {
		s.people.appi[appi] = d
		d.NumeroDossierAppi = appi
	}
	return d
}

// personneOf describes a dossier's person as the events carry it.
func personneOf(d *Dossier) *Personne {
	p := &Personne{Nom: d.Nom, Prenoms: slices.Clone(d.Prenoms), DateNaissance: d.DateNaissance,
		Identifiants: Identifiants{NumeroDossierAppi: d.NumeroDossierAppi, NumerosParquet: slices.Clone(d.NumerosParquet)}}
	if len(d.Ecrous) > 0 {
		last := d.Ecrous[len(d.Ecrous)-1]
		p.Identifiants.NumeroEcrou, p.Identifiants.CodeEtablissement = last.NumeroEcrou, last.CodeEtablissement
	}
	if len(p.Prenoms) == 0 {
		p.Prenoms = []string{"—"}
	}
	return p
}

// mesuresOf lists the current measures PRISME holds for a dossier.
func (s *Server) mesuresOf(d *Dossier) []MesureTransferee {
	var out []MesureTransferee
	for _, it := range s.stores[Mesure].current {
		if it.DossierID != d.ID {
			continue
		}
		var m struct {
			NumeroMesure string   `json:"numeroMesure"`
			TypeMesure   string   `json:"typeMesure"`
			DateDebut    string   `json:"dateDebut"`
			DateFin      string   `json:"dateFin"`
			Obligations  []string `json:"obligations"`
		}
		if json.Unmarshal(it.Body, &m) == nil {
			out = append(out, MesureTransferee(m))
		}
	}
	slices.SortFunc(out, func(a, b MesureTransferee) int { return strings.Compare(a.NumeroMesure, b.NumeroMesure) })
	return out
}

// genMesures invents one or two measures.
func (s *Server) genMesures(now time.Time) []MesureTransferee {
	out := make([]MesureTransferee, 1+s.rng.IntN(2))
	for i := range out {
		start := now.AddDate(0, -1-s.rng.IntN(18), -s.rng.IntN(28))
		obl := []string{pick(s, genObligations)}
		if s.rng.IntN(2) == 0 {
			if o := pick(s, genObligations); o != obl[0] {
				obl = append(obl, o)
			}
		}
		out[i] = MesureTransferee{
			NumeroMesure: fmt.Sprintf("M%d-%06d", start.Year(), s.rng.IntN(1_000_000)),
			TypeMesure:   pick(s, genTypesMesure),
			DateDebut:    start.Format(time.DateOnly),
			DateFin:      start.AddDate(1+s.rng.IntN(2), 0, 0).Format(time.DateOnly),
			Obligations:  obl,
		}
	}
	return out
}

// genDocument makes a small, valid PDF and keeps it by hash.
func (s *Server) genDocument(titre string, now time.Time) ([]byte, string) {
	text := fmt.Sprintf("%s - %s - ref %08x", titre, now.Format(time.DateOnly), s.rng.Uint32())
	stream := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", strings.NewReplacer("(", "", ")", "").Replace(asciiOnly(text)))
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	content := []byte(b.String())
	sum := sha256.Sum256(content)
	sha := hex.EncodeToString(sum[:])
	s.pieces[sha] = content
	return content, sha
}

// asciiOnly replaces non-ASCII letters so that the PDF text stays plain.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 {
			return r
		}
		return '_'
	}, s)
}

// genDessaisissement makes a case transfer of d's follow-up.
func (s *Server) genDessaisissement(d *Dossier) Evenement {
	now := s.now().UTC()
	origine := pick(s, genTJ)
	destination := pick(s, genTJ)
	for destination == origine {
		destination = pick(s, genTJ)
	}
	mesures := s.mesuresOf(d)
	if len(mesures) == 0 {
		mesures = s.genMesures(now)
	}
	pieces := make([]Piece, 1+s.rng.IntN(3))
	for i := range pieces {
		kind := genPieces[s.rng.IntN(len(genPieces))]
		content, sha := s.genDocument(kind.titre, now)
		pieces[i] = Piece{Titre: kind.titre, Type: kind.typ, Sha256: sha, Taille: int64(len(content))}
	}
	day := now.AddDate(0, 0, 7+s.rng.IntN(21))
	rdv := time.Date(day.Year(), day.Month(), day.Day(), 8+s.rng.IntN(9), 30*s.rng.IntN(2), 0, 0, time.UTC)
	return Evenement{
		Type:      TypeDessaisissement,
		DossierID: d.ID,
		Dessaisissement: &Dessaisissement{
			Personne:               personneOf(d),
			JuridictionOrigine:     origine,
			JuridictionDestination: destination,
			Motif:                  pick(s, genMotifs),
			Date:                   now.Format(time.DateOnly),
			Mesures:                mesures,
			NotesEntretien: fmt.Sprintf("Entretien du %s : la personne évoque sa situation familiale et "+
				"ses difficultés de logement ; suivi addictologie à poursuivre.", now.AddDate(0, 0, -s.rng.IntN(30)).Format("02/01/2006")),
			ProchainRendezVous: &rdv,
			Pieces:             pieces,
		},
	}
}

// genRapport makes a validated report on d.
func (s *Server) genRapport(d *Dossier) Evenement {
	now := s.now().UTC()
	typ := pick(s, genTypesRapport)
	titre := map[string]string{
		"RAPPORT_ANNUEL":     "Rapport annuel de suivi",
		"RAPPORT_INCIDENT":   "Rapport d'incident",
		"RAPPORT_FIN_MESURE": "Rapport de fin de mesure",
		"PRE_SENTENCIEL":     "Rapport pré-sentenciel",
	}[typ]
	numero := ""
	if ms := s.mesuresOf(d); len(ms) > 0 {
		numero = ms[0].NumeroMesure
	} else if typ != "PRE_SENTENCIEL" {
		numero = s.genMesures(now)[0].NumeroMesure
	}
	content, sha := s.genDocument(titre, now)
	valide := now.Add(-time.Duration(s.rng.IntN(48)) * time.Hour).Truncate(time.Minute)
	return Evenement{
		Type:      TypeRapportValide,
		DossierID: d.ID,
		Rapport: &Rapport{
			Personne:     personneOf(d),
			NumeroMesure: numero,
			TypeRapport:  typ,
			ValidePar:    pick(s, genDPIP),
			ValideLe:     &valide,
			Document: &Document{Titre: titre, MediaType: "application/pdf", Sha256: sha,
				Taille: int64(len(content)), ContenuBase64: base64.StdEncoding.EncodeToString(content)},
		},
	}
}
