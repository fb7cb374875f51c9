// Package fichepenale is the SOAP client of GENESIS's "FichePenale" service, generated
// by gowsdl v0.5.0 from ../fiche-penale.wsdl (a copy of
// contracts/genesis/fiche-penale.wsdl). fichepenale.go is committed exactly as gowsdl
// writes it: never edit it; change the WSDL and run `make generate` (go generate, see
// gen.go). TestGeneratedCodeIsCurrent fails, with the command to run, when the committed
// file differs from what gowsdl makes of the WSDL.
//
// Nothing outside connectors/genesis uses this package directly: connectors/genesis wraps
// it in a Client that returns plain Go types and works around what the generated code
// gets wrong for this contract:
//
//   - every element is tagged `omitempty`, so a required element whose value is zero
//     would not be sent: the first poll (depuisSequence 0) would ask GENESIS without
//     depuisSequence at all. request.go (hand-written, in this package) gives the two
//     request types a MarshalXML that always writes every element the WSDL requires;
//   - soap.XSDDate and soap.XSDDateTime discard their parse error (an impossible date
//     such as 2024-02-31 becomes the zero value, which reads as "absent"), and an int
//     cannot tell a missing required element from 0: connectors/genesis reads those
//     elements a second time as text and checks them itself;
//   - soap.Client sets req.Close on every request (no keep-alive), reads error bodies
//     without a limit and returns faults sent with HTTP 500 as *soap.HTTPError carrying
//     the raw body: connectors/genesis gives it an HTTP client that clears req.Close,
//     bounds the body, retries and classifies faults before soap sees them.
package fichepenale
