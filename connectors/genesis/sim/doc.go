// Package sim is a simulator of GENESIS's FichePenale service (the prison-management
// system's SOAP interface), for Passerelle's tests and demo. It speaks the published
// interface — fiche-penale.wsdl in this package, a copy of
// contracts/genesis/fiche-penale.wsdl, embedded — over real HTTP, and shares no code
// with the client in connectors/genesis: it is the other side of the wire.
//
// What it implements, as the WSDL's header states it:
//
//   - SOAP 1.1 document/literal wrapped at Options.Path (default
//     /genesis/ws/fichepenale): POST text/xml with a SOAPAction header (quoted or not)
//     naming the operation the body holds; GET ?wsdl answers the WSDL, its soap:address
//     pointing at the server that answered;
//   - ListerMouvements: the movements after depuisSequence (exclusive), in sequence
//     order, at most nombreMax (1..1000, otherwise a soap:Client fault), with
//     dernierSequence the last one served (depuisSequence on an empty page);
//   - ConsulterFichePenale: the current state of a fiche, its version increasing at
//     every change, two reads of one version identical; an unknown fiche answers the
//     soap:Client fault FicheInconnue (HTTP 500, as SOAP 1.1 requires for faults);
//   - requests are read strictly: child elements must be in the service's namespace
//     (elementFormDefault "qualified"), required ones present; anything else is a
//     soap:Client fault. Bodies are limited to 1 MiB (413); encoding/xml resolves no
//     external entity and no DTD.
//
// State holds the fiches and the feed; tests and the demo drive it (Ecrou,
// MajFichePenale, Transfert, LeveeEcrou, AddMovement, PutFiche, BumpVersion,
// RemoveFiche), and Generator fills it with a realistic, reproducible prison week.
//
// Faults, switchable at run time (Server.Faults): latency (fixed and random), 503
// ServiceIndisponible from the front proxy (the next N calls or a fraction, with an
// optional Retry-After), repeated movements in the same or a later page, version bumps
// without a movement, and fiches that answer FicheInconnue although their movements are
// in the feed. Counters (Server.Counters) say what was answered.
//
// Guarantees: every method and handler is safe for concurrent use; no input makes a
// handler panic; the simulator writes no logs. It holds and serves generated personal
// data (names, birth dates): it is a test tool.
package sim
