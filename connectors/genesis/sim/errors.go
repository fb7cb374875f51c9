package sim

import "errors"

// ErrFicheExists is returned when a committal would create a fiche whose numéro
// d'écrou is already used at that establishment.
var ErrFicheExists = errors.New("genesis sim: fiche already exists")

// ErrFicheInconnue is returned by State methods for a fiche the simulator does not hold.
var ErrFicheInconnue = errors.New("genesis sim: unknown fiche")

// ErrEcrouLeve is returned when a transfer or a release concerns an écrou already
// closed (its fiche has dateLevee).
var ErrEcrouLeve = errors.New("genesis sim: écrou already closed")

// ErrInvalidMovement is returned by AddMovement for a movement the WSDL would not
// allow (unknown type, no timestamp, no key) or a sequence that does not increase.
var ErrInvalidMovement = errors.New("genesis sim: invalid movement")

// ErrInvalidFiche is returned by PutFiche and Ecrou for a fiche without its key.
var ErrInvalidFiche = errors.New("genesis sim: invalid fiche")

// ErrInvalidFault is returned by the fault setters for a negative count or duration
// or a fraction outside [0, 1].
var ErrInvalidFault = errors.New("genesis sim: invalid fault")
