package genesis

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"passerelle/connectors/genesis/fichepenale"
)

// Content types of the raw bytes the source gives the pipeline (kept in quarantine,
// read again by Decode on replay).
const (
	// ContentTypeFiche is a ConsulterFichePenale response envelope exactly as GENESIS
	// sent it: the raw of a penal record.
	ContentTypeFiche = "text/xml; charset=utf-8"
	// ContentTypeMouvement is one movement as a standalone <mouvement> element of the
	// WSDL's type Mouvement, in GENESIS's namespace: the raw of a custody event and of
	// a movement whose fiche could not be read.
	ContentTypeMouvement = "application/xml; charset=utf-8"
)

// maxRawBytes bounds a raw input given to Decode (a movement is a few hundred bytes,
// a fiche a few KiB; the client's own bound applies to what GENESIS sends).
const maxRawBytes = DefaultMaxResponseBytes

// mouvementXML is a movement in the WSDL's element order, children in GENESIS's
// namespace (elementFormDefault "qualified").
type mouvementXML struct {
	XMLName                      xml.Name `xml:"urn:justice:genesis:fichepenale:v1 mouvement"`
	Sequence                     string   `xml:"sequence,omitempty"`
	NumeroEcrou                  string   `xml:"numeroEcrou,omitempty"`
	CodeEtablissement            string   `xml:"codeEtablissement,omitempty"`
	Type                         string   `xml:"type,omitempty"`
	Horodatage                   string   `xml:"horodatage,omitempty"`
	CodeEtablissementDestination string   `xml:"codeEtablissementDestination,omitempty"`
	NumeroEcrouDestination       string   `xml:"numeroEcrouDestination,omitempty"`
}

// EncodeMouvement writes m as a standalone <mouvement> element (ContentTypeMouvement),
// the way GENESIS writes it inside a ListerMouvements page: the horodatage with its
// offset, optional elements only when set. A movement that broke the WSDL is written
// with what could be read of it (a missing sequence or horodatage is left out).
func EncodeMouvement(m *Mouvement) []byte {
	v := mouvementXML{
		NumeroEcrou:                  m.NumeroEcrou,
		CodeEtablissement:            m.CodeEtablissement,
		Type:                         string(m.Type),
		CodeEtablissementDestination: m.CodeEtablissementDestination,
		NumeroEcrouDestination:       m.NumeroEcrouDestination,
	}
	if m.Sequence != 0 {
		v.Sequence = strconv.FormatInt(m.Sequence, 10)
	}
	if !m.Horodatage.IsZero() {
		v.Horodatage = m.Horodatage.Format(time.RFC3339Nano)
	}
	out, err := xml.Marshal(v)
	if err != nil { // strings only: encoding/xml escapes them all
		return nil
	}
	return out
}

// DecodeMouvement reads a standalone <mouvement> element written by EncodeMouvement
// (or cut from a ListerMouvements page with its namespace) and checks it as the Client
// checks a movement of a page. A movement that breaks the WSDL is an error (the
// movement's own Err, permanent); XML that is not one movement element is an
// *InvalidResponseError.
func DecodeMouvement(raw []byte) (Mouvement, error) {
	const op = "mouvement"
	invalid := func(reason string, cause error) (Mouvement, error) {
		return Mouvement{}, markPermanent(&InvalidResponseError{Operation: op, Reason: reason, Raw: raw, cause: cause})
	}
	if len(raw) > maxRawBytes {
		return invalid("larger than a movement can be", nil)
	}
	name, err := rootName(raw)
	if err != nil {
		return invalid(describeRootError(err), err)
	}
	if name.Space != fichepenale.Namespace || name.Local != "mouvement" {
		return invalid("not a GENESIS mouvement element", nil)
	}
	var gm fichepenale.Mouvement
	var lex struct {
		Sequence   *string `xml:"sequence"`
		Horodatage *string `xml:"horodatage"`
	}
	if err := xml.Unmarshal(raw, &gm); err != nil {
		return invalid(describeDecodeError(err), err)
	}
	if err := xml.Unmarshal(raw, &lex); err != nil {
		return invalid(describeDecodeError(err), err)
	}
	m := mouvementFrom(&gm, lex.Sequence, lex.Horodatage)
	if m.Err != nil {
		return m, markPermanent(m.Err)
	}
	return m, nil
}

// rootName returns the name of the document's root element, and an error when there
// is none or something follows it.
func rootName(raw []byte) (xml.Name, error) {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	var root xml.Name
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if root.Local == "" {
				return root, fmt.Errorf("%w: no root element", errRawShape)
			}
			return root, nil
		}
		if err != nil {
			return root, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root.Local != "" {
					return root, fmt.Errorf("%w: more than one root element", errRawShape)
				}
				root = t.Name
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return root, fmt.Errorf("%w: text outside the root element", errRawShape)
			}
		}
	}
}

// describeRootError says why rootName failed, without quoting the input.
func describeRootError(err error) string {
	if errors.Is(err, errRawShape) {
		return err.Error()
	}
	return describeDecodeError(err)
}

// rawKind says what a raw input holds.
type rawKind int

const (
	rawUnknown   rawKind = iota
	rawFiche             // a ConsulterFichePenale response envelope
	rawMouvement         // a standalone movement
)

// kindOfRaw tells a fiche envelope from a movement by the root element (the content
// type is informational: quarantine keeps it, but the bytes decide).
func kindOfRaw(raw []byte) (rawKind, error) {
	name, err := rootName(raw)
	if err != nil {
		return rawUnknown, fmt.Errorf("%w: %s", ErrInvalidRaw, describeRootError(err))
	}
	switch {
	case name.Local == "Envelope" && name.Space == soapEnvelopeNS:
		return rawFiche, nil
	case name.Local == "mouvement" && name.Space == fichepenale.Namespace:
		return rawMouvement, nil
	}
	return rawUnknown, fmt.Errorf("%w: raw input is neither a SOAP envelope nor a GENESIS mouvement", ErrInvalidRaw)
}

// soapEnvelopeNS is the SOAP 1.1 envelope namespace.
const soapEnvelopeNS = "http://schemas.xmlsoap.org/soap/envelope/"
