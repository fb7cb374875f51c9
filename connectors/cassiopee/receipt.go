package cassiopee

import (
	"encoding/json"
	"time"

	"passerelle/connectors"
)

// Receipt is the intake's answer to a decision (202, or 200 for the same transmission
// sent again) and to GET /cassiopee/v3/receipts/{id}: one entry per prévenu, in the
// order of the decision's prevenus.
type Receipt struct {
	// ID is the receipt id, for GET PathReceipts + ID.
	ID string `json:"id"`
	// RecuLe is when the hub committed the decision.
	RecuLe time.Time `json:"recuLe"`
	// Juridiction is the court that sent it (its certificate's code).
	Juridiction string `json:"juridiction"`
	// Reference is the decision's numéro parquet and transmission.
	Reference string `json:"reference,omitempty"`
	// Messages are the prévenus' judgments.
	Messages []ReceiptMessage `json:"messages"`
}

// ReceiptMessage is where one prévenu's judgment stands.
type ReceiptMessage struct {
	// Prevenu is the index of the prévenu in the decision's prevenus.
	Prevenu int `json:"prevenu"`
	// MessageID is the hub's id of the judgment (an earlier one for a repeat).
	MessageID string `json:"messageId"`
	// Statut is accepted, relayed, delivered, quarantined, stale or superseded.
	Statut string `json:"statut"`
	// Libelle says the state in French.
	Libelle string `json:"libelle"`
	// DossierID is PRISME's file of the person, once delivered.
	DossierID string `json:"dossierId,omitempty"`
	// DelivreLe is when PRISME acknowledged it.
	DelivreLe *time.Time `json:"delivreLe,omitempty"`
	// Motif is why it is quarantined (stages, pointers, rules; never a value).
	Motif string `json:"motif,omitempty"`
	// QuarantaineID is the quarantine item, for the hub's operators.
	QuarantaineID int64 `json:"quarantaineId,omitempty"`
	// Courant, for stale, is the message of the newer transmission already received.
	Courant string `json:"courant,omitempty"`
}

// libelles says each state in French.
var libelles = map[string]string{
	connectors.StateAccepted:    "reçue et enregistrée par le concentrateur",
	connectors.StateRelayed:     "en cours de transmission au SPIP",
	connectors.StateDelivered:   "reçue par le SPIP (PRISME)",
	connectors.StateQuarantined: "en attente de traitement par l'exploitation (quarantaine)",
	connectors.StateStale:       "enregistrée sans être transmise : une transmission plus récente a déjà été reçue",
	connectors.StateSuperseded:  "non transmise : une transmission plus récente a été reçue par le SPIP",
}

// ReceiptOf is the clerk's view of a push receipt.
func ReceiptOf(r connectors.PushReceipt) Receipt {
	out := Receipt{ID: r.ID, RecuLe: r.ReceivedAt, Juridiction: r.Caller, Reference: r.Reference,
		Messages: make([]ReceiptMessage, 0, len(r.Messages))}
	for _, m := range r.Messages {
		rm := ReceiptMessage{Prevenu: m.Index, MessageID: m.MessageID, Statut: m.State, Libelle: libelles[m.State],
			Motif: m.Reason, QuarantaineID: m.QuarantineID, Courant: m.Current}
		for _, d := range m.Deliveries {
			if d.Status != "delivered" || len(d.Receipt) == 0 {
				continue
			}
			var acc struct {
				DossierID string `json:"dossierId"`
				RecuLe    string `json:"recuLe"`
			}
			if json.Unmarshal(d.Receipt, &acc) != nil || acc.DossierID == "" {
				continue
			}
			at := d.At.UTC()
			if t, err := time.Parse(time.RFC3339Nano, acc.RecuLe); err == nil {
				at = t
			}
			rm.DossierID, rm.DelivreLe = acc.DossierID, &at
			break
		}
		out.Messages = append(out.Messages, rm)
	}
	return out
}
