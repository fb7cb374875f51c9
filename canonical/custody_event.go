package canonical

import "time"

// CustodyEventKind is the kind of a GENESIS movement (type de mouvement).
type CustodyEventKind string

// The values of CustodyEventKind.
const (
	// CustodyEventEcrou is a committal (écrou).
	CustodyEventEcrou CustodyEventKind = "ECROU"
	// CustodyEventLeveeEcrou is a release from custody (levée d'écrou).
	CustodyEventLeveeEcrou CustodyEventKind = "LEVEE_ECROU"
	// CustodyEventTransfert is a transfer to another establishment (transfert).
	CustodyEventTransfert CustodyEventKind = "TRANSFERT"
	// CustodyEventMajFichePenale is an update of the penal record (mise à jour de la fiche pénale).
	CustodyEventMajFichePenale CustodyEventKind = "MAJ_FICHE_PENALE"
)

// CustodyEvent is one GENESIS movement, joined with the person of the fiche it
// announces (mouvement de détention); type fr.justice.custody-event.v1. A TRANSFERT
// carries both destination fields (the schema requires them).
type CustodyEvent struct {
	// Sequence is the GENESIS movement sequence, one event per sequence (séquence GENESIS).
	Sequence int64 `json:"sequence"`
	// Kind is the kind of movement (type de mouvement).
	Kind CustodyEventKind `json:"kind"`
	// OccurredAt is when the movement happened (horodatage).
	OccurredAt time.Time `json:"occurredAt"`
	// CommittalNumber is the committal number at the establishment (numéro d'écrou).
	CommittalNumber string `json:"committalNumber"`
	// EstablishmentCode is the prison establishment's code (code établissement).
	EstablishmentCode string `json:"establishmentCode"`
	// DestinationEstablishmentCode is a transfer's establishment of destination (code établissement de destination).
	DestinationEstablishmentCode string `json:"destinationEstablishmentCode,omitempty"`
	// DestinationCommittalNumber is a transfer's new committal number there (numéro d'écrou de destination).
	DestinationCommittalNumber string `json:"destinationCommittalNumber,omitempty"`
	// Person is the person in custody (personne).
	Person Person `json:"person"`
}
