package sim

import _ "embed"

// WSDL is the service description served on GET ?wsdl: a byte-identical copy of
// connectors/genesis/fiche-penale.wsdl (itself a copy of
// contracts/genesis/fiche-penale.wsdl), which TestEmbeddedWSDLIsTheConnectorsCopy checks.
//
//go:embed fiche-penale.wsdl
var WSDL []byte
