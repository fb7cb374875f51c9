package fichepenale

import "encoding/xml"

// Namespace is the target namespace of the FichePenale service.
const Namespace = "urn:justice:genesis:fichepenale:v1"

// SOAP actions of the two operations, as the WSDL binding declares them.
const (
	// ActionListerMouvements is the SOAPAction of ListerMouvements.
	ActionListerMouvements = Namespace + "#ListerMouvements"
	// ActionConsulterFichePenale is the SOAPAction of ConsulterFichePenale.
	ActionConsulterFichePenale = Namespace + "#ConsulterFichePenale"
)

// listerMouvementsWire is ListerMouvements with every required element always written.
type listerMouvementsWire struct {
	XMLName        xml.Name `xml:"urn:justice:genesis:fichepenale:v1 ListerMouvements"`
	DepuisSequence int64    `xml:"depuisSequence"`
	NombreMax      int32    `xml:"nombreMax"`
}

// MarshalXML writes depuisSequence and nombreMax even when they are 0: both are
// required by the WSDL, and the generated `omitempty` tags would drop them. The child
// elements inherit the default namespace of the wrapper, as elementFormDefault
// "qualified" requires.
func (r ListerMouvements) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	return e.Encode(listerMouvementsWire{DepuisSequence: r.DepuisSequence, NombreMax: r.NombreMax})
}

// consulterFichePenaleWire is ConsulterFichePenale with every required element written.
type consulterFichePenaleWire struct {
	XMLName           xml.Name `xml:"urn:justice:genesis:fichepenale:v1 ConsulterFichePenale"`
	NumeroEcrou       string   `xml:"numeroEcrou"`
	CodeEtablissement string   `xml:"codeEtablissement"`
}

// MarshalXML writes numeroEcrou and codeEtablissement even when empty, for the same
// reason as ListerMouvements.MarshalXML.
func (r ConsulterFichePenale) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	return e.Encode(consulterFichePenaleWire{NumeroEcrou: r.NumeroEcrou, CodeEtablissement: r.CodeEtablissement})
}
