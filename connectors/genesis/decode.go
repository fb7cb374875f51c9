package genesis

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"passerelle/connectors"
	"passerelle/connectors/genesis/fichepenale"
)

// DecodeMouvements decodes a ListerMouvements response envelope exactly as the Client
// does after a call: soap's envelope types and the generated response type, then the
// checks the generated code cannot make. depuis is the depuisSequence the response
// answered. It is what a replay of quarantined raw responses uses. Errors are marked
// like the Client's (a fault by its class, an invalid response permanent).
func DecodeMouvements(raw []byte, depuis int64) (mouvements []Mouvement, dernier int64, err error) {
	const op = "ListerMouvements"
	resp := new(fichepenale.ListerMouvementsResponse)
	if err := decodeEnvelope(op, raw, resp); err != nil {
		return nil, depuis, markPermanent(err)
	}
	mouvements, dernier, err = mouvementsFromResponse(raw, resp, depuis)
	return mouvements, dernier, markPermanent(err)
}

// DecodeFichePenale decodes a ConsulterFichePenale response envelope exactly as the
// Client does after a call (see DecodeMouvements); FichePenale.Raw is raw.
func DecodeFichePenale(raw []byte) (*FichePenale, error) {
	const op = "ConsulterFichePenale"
	resp := new(fichepenale.ConsulterFichePenaleResponse)
	if err := decodeEnvelope(op, raw, resp); err != nil {
		return nil, markPermanent(err)
	}
	f, err := fichePenaleFromResponse(raw, resp)
	return f, markPermanent(err)
}

// markPermanent marks err permanent unless it is nil or already classified.
func markPermanent(err error) error {
	if err == nil || errors.Is(err, connectors.ErrTransient) || errors.Is(err, connectors.ErrPermanent) {
		return err
	}
	return connectors.Permanent(err)
}

// decodeEnvelope decodes raw into content the way soap.Client.call (v0.5.0) does for a
// plain text/xml response: a SOAPEnvelopeResponse whose body holds content or a fault.
// A fault is classified like one received over HTTP.
func decodeEnvelope(op string, raw []byte, content any) error {
	if hasEnvelopeAttachments(raw) {
		return &InvalidResponseError{Operation: op,
			Reason: "the envelope carries an attachments element the service never sends", Raw: raw}
	}
	env := soap.SOAPEnvelopeResponse{Body: soap.SOAPBodyResponse{Content: content, Fault: &soap.SOAPFault{}}}
	if err := xml.NewDecoder(bytes.NewReader(raw)).Decode(&env); err != nil {
		return &InvalidResponseError{Operation: op, Reason: describeDecodeError(err), Raw: raw, cause: err}
	}
	if env.Body.ErrorFromFault() != nil {
		if f, ok := parseFault(raw); ok {
			return classifyFault(f, http.StatusOK, 0).err
		}
		return &InvalidResponseError{Operation: op, Reason: "unreadable SOAP fault", Raw: raw}
	}
	return nil
}

// describeDecodeError says why a response could not be decoded, without quoting it
// (strconv's and encoding/xml's messages can quote a value).
func describeDecodeError(err error) string {
	var syntax *xml.SyntaxError
	var num *strconv.NumError
	var unmarshal xml.UnmarshalError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed XML (line %d)", syntax.Line)
	case errors.As(err, &num):
		return "a numeric element is not a number of its type"
	case errors.As(err, &unmarshal):
		return "the XML does not have the WSDL's elements"
	}
	return "undecodable SOAP envelope"
}

// The lexical views: the elements the generated types decode lossily, read again as
// text. soap.XSDDate and soap.XSDDateTime drop their parse error (an impossible date
// reads as the zero value, that is as "absent"), and an int64 cannot tell a missing
// required element from 0. Elements match by local name, as in the generated types.

type listerLexical struct {
	Body struct {
		Response struct {
			Mouvements []struct {
				Sequence   *string `xml:"sequence"`
				Horodatage *string `xml:"horodatage"`
			} `xml:"mouvement"`
			DernierSequence *string `xml:"dernierSequence"`
		} `xml:"ListerMouvementsResponse"`
	} `xml:"Body"`
}

type ficheLexical struct {
	Body struct {
		Response struct {
			Fiche *struct {
				Version   *string `xml:"version"`
				DateEcrou *string `xml:"dateEcrou"`
				Identite  *struct {
					DateNaissance *string `xml:"dateNaissance"`
				} `xml:"identite"`
				Condamnations []condamnationLexical `xml:"condamnation"`
				Reductions    []struct {
					DateDecision *string `xml:"dateDecision"`
				} `xml:"reduction"`
				FinPeriodeSurete             *string `xml:"finPeriodeSurete"`
				DateLiberationPrevisionnelle *string `xml:"dateLiberationPrevisionnelle"`
				DateLevee                    *string `xml:"dateLevee"`
			} `xml:"fichePenale"`
		} `xml:"ConsulterFichePenaleResponse"`
	} `xml:"Body"`
}

type condamnationLexical struct {
	DateDecision *string `xml:"dateDecision"`
	Infractions  []struct {
		DateFaits *string `xml:"dateFaits"`
	} `xml:"infraction"`
	Peines []struct {
		DateDebutExecution *string `xml:"dateDebutExecution"`
		DateFinPeine       *string `xml:"dateFinPeine"`
	} `xml:"peine"`
}

// mouvementsFromResponse converts a decoded page, checking what the generated types
// cannot. A page-level problem fails the page; a movement-level one sets that
// movement's Err.
func mouvementsFromResponse(raw []byte, resp *fichepenale.ListerMouvementsResponse, depuis int64) ([]Mouvement, int64, error) {
	const op = "ListerMouvements"
	invalid := func(reason string) ([]Mouvement, int64, error) {
		return nil, depuis, &InvalidResponseError{Operation: op, Reason: reason, Raw: raw}
	}
	if resp == nil {
		return invalid("no ListerMouvementsResponse")
	}
	var lex listerLexical
	if err := xml.Unmarshal(raw, &lex); err != nil {
		return invalid(describeDecodeError(err))
	}
	if lex.Body.Response.DernierSequence == nil {
		return invalid("dernierSequence is missing")
	}
	if len(lex.Body.Response.Mouvements) != len(resp.Mouvement) {
		return invalid("the movements could not be read consistently")
	}
	dernier := resp.DernierSequence
	if dernier < depuis {
		return invalid("dernierSequence is before depuisSequence")
	}
	out := make([]Mouvement, len(resp.Mouvement))
	for i, m := range resp.Mouvement {
		lm := lex.Body.Response.Mouvements[i]
		out[i] = mouvementFrom(m, lm.Sequence, lm.Horodatage)
		if out[i].Err == nil && out[i].Sequence > dernier {
			return invalid("a movement comes after dernierSequence")
		}
	}
	return out, dernier, nil
}

// mouvementFrom converts one movement; Err says what breaks the WSDL, if anything.
func mouvementFrom(m *fichepenale.Mouvement, seqText, horodatageText *string) Mouvement {
	if m == nil {
		return Mouvement{Err: fmt.Errorf("%w: empty movement", ErrInvalidResponse)}
	}
	out := Mouvement{
		Sequence:                     m.Sequence,
		NumeroEcrou:                  m.NumeroEcrou,
		CodeEtablissement:            m.CodeEtablissement,
		CodeEtablissementDestination: m.CodeEtablissementDestination,
		NumeroEcrouDestination:       m.NumeroEcrouDestination,
	}
	if m.Type_ != nil {
		out.Type = TypeMouvement(strings.TrimSpace(string(*m.Type_)))
	}
	problem := ""
	if horodatageText != nil {
		t, err := parseDateTime(*horodatageText)
		if err != nil {
			problem = "horodatage is not an xs:dateTime with an offset"
		}
		out.Horodatage = t
	}
	switch {
	case seqText == nil:
		problem = "sequence is missing"
	case m.Sequence <= 0:
		problem = "sequence is not positive"
	case m.NumeroEcrou == "" || m.CodeEtablissement == "":
		problem = "numeroEcrou or codeEtablissement is missing"
	case m.Type_ == nil:
		problem = "type is missing"
	case !validType(out.Type):
		problem = "type is not a TypeMouvement"
	case horodatageText == nil:
		problem = "horodatage is missing"
	case out.Type == MouvementTransfert && (m.CodeEtablissementDestination == "" || m.NumeroEcrouDestination == ""):
		problem = "TRANSFERT without its destination"
	}
	if problem != "" {
		out.Err = fmt.Errorf("%w: movement %d: %s", ErrInvalidResponse, m.Sequence, problem)
	}
	return out
}

// validType reports whether t is one of the WSDL's movement types.
func validType(t TypeMouvement) bool {
	switch t {
	case MouvementEcrou, MouvementLeveeEcrou, MouvementTransfert, MouvementMajFichePenale:
		return true
	}
	return false
}

// ficheChecker collects the first problem met while converting a fiche.
type ficheChecker struct {
	problem string
}

// fail records reason if it is the first problem.
func (c *ficheChecker) fail(reason string) {
	if c.problem == "" {
		c.problem = reason
	}
}

// date converts an xs:date element read as text (nil when absent).
func (c *ficheChecker) date(path string, v *string, required bool) Date {
	if v == nil {
		if required {
			c.fail(path + " is missing")
		}
		return ""
	}
	d, err := parseDate(*v)
	if err != nil {
		c.fail(path + " is not a valid xs:date")
	}
	return d
}

// fichePenaleFromResponse converts a decoded fiche, checking what the generated types
// cannot: required elements present, dates real, enumerations respected.
func fichePenaleFromResponse(raw []byte, resp *fichepenale.ConsulterFichePenaleResponse) (*FichePenale, error) {
	const op = "ConsulterFichePenale"
	invalid := func(reason string) (*FichePenale, error) {
		return nil, &InvalidResponseError{Operation: op, Reason: reason, Raw: raw}
	}
	if resp == nil || resp.FichePenale == nil {
		return invalid("fichePenale is missing")
	}
	var lex ficheLexical
	if err := xml.Unmarshal(raw, &lex); err != nil {
		return invalid(describeDecodeError(err))
	}
	lf, gf := lex.Body.Response.Fiche, resp.FichePenale
	if lf == nil || len(lf.Condamnations) != len(gf.Condamnation) || len(lf.Reductions) != len(gf.Reduction) {
		return invalid("the fiche could not be read consistently")
	}

	var c ficheChecker
	f := &FichePenale{
		NumeroEcrou:          gf.NumeroEcrou,
		CodeEtablissement:    gf.CodeEtablissement,
		LibelleEtablissement: gf.LibelleEtablissement,
		Version:              gf.Version,
		Raw:                  raw,
	}
	if gf.NumeroEcrou == "" || gf.CodeEtablissement == "" {
		c.fail("numeroEcrou or codeEtablissement is missing")
	}
	if lf.Version == nil {
		c.fail("version is missing")
	} else if gf.Version < 0 {
		c.fail("version is negative")
	}
	if gf.Identite == nil || lf.Identite == nil {
		c.fail("identite is missing")
	} else {
		id := gf.Identite
		f.Identite = Identite{Nom: id.Nom, NomUsage: id.NomUsage, Prenoms: id.Prenoms,
			LieuNaissance: id.LieuNaissance, Nationalite: id.Nationalite}
		if id.Sexe == nil {
			c.fail("identite/sexe is missing")
		} else if f.Identite.Sexe = Sexe(strings.TrimSpace(string(*id.Sexe))); f.Identite.Sexe != SexeM && f.Identite.Sexe != SexeF {
			c.fail("identite/sexe is not a Sexe")
		}
		f.Identite.DateNaissance = c.date("identite/dateNaissance", lf.Identite.DateNaissance, true)
	}
	f.DateEcrou = c.date("dateEcrou", lf.DateEcrou, true)
	if gf.Statut == nil {
		c.fail("statut is missing")
	} else {
		f.Statut = StatutDetenu(strings.TrimSpace(string(*gf.Statut)))
		if f.Statut != StatutPrevenu && f.Statut != StatutCondamne && f.Statut != StatutMixte {
			c.fail("statut is not a StatutDetenu")
		}
	}
	if len(gf.Condamnation) > 0 {
		f.Condamnations = make([]Condamnation, len(gf.Condamnation))
	}
	for i, gc := range gf.Condamnation {
		f.Condamnations[i] = c.condamnation(fmt.Sprintf("condamnation[%d]", i+1), gc, &lf.Condamnations[i])
	}
	if len(gf.Reduction) > 0 {
		f.Reductions = make([]Reduction, len(gf.Reduction))
	}
	for i, gr := range gf.Reduction {
		path := fmt.Sprintf("reduction[%d]", i+1)
		if gr == nil {
			c.fail(path + " is empty")
			continue
		}
		f.Reductions[i] = Reduction{Type: TypeReduction(gr.Type_), Jours: int(gr.Jours),
			DateDecision: c.date(path+"/dateDecision", lf.Reductions[i].DateDecision, true)}
	}
	f.FinPeriodeSurete = c.date("finPeriodeSurete", lf.FinPeriodeSurete, false)
	f.DateLiberationPrevisionnelle = c.date("dateLiberationPrevisionnelle", lf.DateLiberationPrevisionnelle, false)
	f.DateLevee = c.date("dateLevee", lf.DateLevee, false)
	if c.problem != "" {
		return invalid(c.problem)
	}
	return f, nil
}

// condamnation converts one conviction (lc is its lexical view).
func (c *ficheChecker) condamnation(path string, gc *fichepenale.Condamnation, lc *condamnationLexical) Condamnation {
	if gc == nil || len(lc.Infractions) != len(gc.Infraction) || len(lc.Peines) != len(gc.Peine) {
		c.fail(path + " could not be read consistently")
		return Condamnation{}
	}
	out := Condamnation{
		ReferenceDecision: gc.ReferenceDecision,
		Juridiction:       gc.Juridiction,
		DateDecision:      c.date(path+"/dateDecision", lc.DateDecision, true),
		NatureDecision:    gc.NatureDecision,
		NumeroParquet:     gc.NumeroParquet,
	}
	if len(gc.Infraction) == 0 {
		c.fail(path + " has no infraction")
	}
	if len(gc.Peine) == 0 {
		c.fail(path + " has no peine")
	}
	out.Infractions = make([]Infraction, len(gc.Infraction))
	for i, gi := range gc.Infraction {
		ipath := fmt.Sprintf("%s/infraction[%d]", path, i+1)
		if gi == nil {
			c.fail(ipath + " is empty")
			continue
		}
		out.Infractions[i] = Infraction{CodeNatinf: gi.CodeNatinf, Libelle: gi.Libelle,
			DateFaits: c.date(ipath+"/dateFaits", lc.Infractions[i].DateFaits, false)}
	}
	out.Peines = make([]Peine, len(gc.Peine))
	for i, gp := range gc.Peine {
		ppath := fmt.Sprintf("%s/peine[%d]", path, i+1)
		if gp == nil {
			c.fail(ppath + " is empty")
			continue
		}
		p := Peine{
			DateDebutExecution: c.date(ppath+"/dateDebutExecution", lc.Peines[i].DateDebutExecution, false),
			DateFinPeine:       c.date(ppath+"/dateFinPeine", lc.Peines[i].DateFinPeine, false),
		}
		if gp.Nature == nil {
			c.fail(ppath + "/nature is missing")
		} else {
			p.Nature = NaturePeine(strings.TrimSpace(string(*gp.Nature)))
			if !validNature(p.Nature) {
				c.fail(ppath + "/nature is not a NaturePeine")
			}
		}
		if gp.Quantum == nil {
			c.fail(ppath + "/quantum is missing")
		} else {
			p.Quantum = quantumFrom(gp.Quantum)
		}
		if gp.PartieSursis != nil {
			q := quantumFrom(gp.PartieSursis)
			p.PartieSursis = &q
		}
		out.Peines[i] = p
	}
	return out
}

// quantumFrom converts a generated Quantum.
func quantumFrom(q *fichepenale.Quantum) Quantum {
	return Quantum{Annees: int(q.Annees), Mois: int(q.Mois), Jours: int(q.Jours)}
}

// validNature reports whether n is one of the WSDL's sentence natures.
func validNature(n NaturePeine) bool {
	switch n {
	case PeineEmprisonnement, PeineReclusionCriminelle, PeineDetentionCriminelle,
		PeineContraintePenale, PeineRevocationSursis:
		return true
	}
	return false
}

// parseDate reads an xs:date: "AAAA-MM-JJ", a real calendar day, optionally followed by
// a time zone (dropped), surrounding whitespace collapsed as XML Schema does.
func parseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	if len(s) < len(time.DateOnly) {
		return "", errors.New("not an xs:date")
	}
	day, zone := s[:len(time.DateOnly)], s[len(time.DateOnly):]
	if zone != "" && zone != "Z" && !validOffset(zone) {
		return "", errors.New("not an xs:date time zone")
	}
	t, err := time.Parse(time.DateOnly, day)
	if err != nil || t.Year() == 0 {
		return "", errors.New("not a calendar day")
	}
	return Date(day), nil
}

// validOffset reports whether z is an xs time zone offset, [+-]hh:mm up to 14:00.
func validOffset(z string) bool {
	if len(z) != 6 || (z[0] != '+' && z[0] != '-') || z[3] != ':' {
		return false
	}
	h, err1 := strconv.Atoi(z[1:3])
	m, err2 := strconv.Atoi(z[4:6])
	return err1 == nil && err2 == nil && z[1] != '+' && z[1] != '-' && z[4] != '+' && z[4] != '-' &&
		m < 60 && (h < 14 || (h == 14 && m == 0))
}

// parseDateTime reads an xs:dateTime with its offset (the WSDL promises one), as
// RFC 3339.
func parseDateTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, errors.New("not an xs:dateTime with an offset")
	}
	return t, nil
}
