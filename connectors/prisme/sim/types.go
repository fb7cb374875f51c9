package sim

import (
	"encoding/json"
	"strconv"
	"time"
)

// Kind names one of the four kinds of item partners push into PRISME; its value is the
// last segment of the endpoint's path.
type Kind string

// The item kinds of the contract.
const (
	// FichePenale is a penal record from GENESIS (POST /api/v1/fiches-penales),
	// keyed by numeroEcrou + codeEtablissement, newest `version` wins.
	FichePenale Kind = "fiches-penales"
	// Decision is a judgment from Cassiopée (POST /api/v1/decisions), keyed by
	// numeroParquet + the matched dossier, newest `numeroTransmission` wins.
	Decision Kind = "decisions"
	// Mesure is a sentence-enforcement measure from APPI (POST /api/v1/mesures),
	// keyed by numeroMesure, newest `version` wins.
	Mesure Kind = "mesures"
	// EvenementDetention is a custody event from GENESIS
	// (POST /api/v1/evenements-detention), keyed by sequenceGenesis, first one wins.
	EvenementDetention Kind = "evenements-detention"
)

// kinds lists the item kinds in a fixed order.
var kinds = []Kind{FichePenale, Decision, Mesure, EvenementDetention}

// Valid reports whether k is one of the four kinds of the contract.
func (k Kind) Valid() bool {
	switch k {
	case FichePenale, Decision, Mesure, EvenementDetention:
		return true
	}
	return false
}

// schemaName is the name of the kind's schema in components.schemas.
func (k Kind) schemaName() string {
	switch k {
	case FichePenale:
		return "FichePenale"
	case Decision:
		return "Decision"
	case Mesure:
		return "Mesure"
	default:
		return "EvenementDetention"
	}
}

// idPrefix starts the PRISME id of a stored item of this kind.
func (k Kind) idPrefix() string {
	switch k {
	case FichePenale:
		return "FP"
	case Decision:
		return "DEC"
	case Mesure:
		return "MES"
	default:
		return "EVD"
	}
}

// Endpoint names an endpoint of the contract, for fault injection and the request log.
type Endpoint string

// The endpoints of the contract.
const (
	// EndpointToken is POST /oauth/token.
	EndpointToken Endpoint = "token"
	// EndpointFichesPenales is POST /api/v1/fiches-penales.
	EndpointFichesPenales Endpoint = Endpoint(FichePenale)
	// EndpointDecisions is POST /api/v1/decisions.
	EndpointDecisions Endpoint = Endpoint(Decision)
	// EndpointMesures is POST /api/v1/mesures.
	EndpointMesures Endpoint = Endpoint(Mesure)
	// EndpointEvenementsDetention is POST /api/v1/evenements-detention.
	EndpointEvenementsDetention Endpoint = Endpoint(EvenementDetention)
	// EndpointEvenements is GET /api/v1/evenements, PRISME's outgoing events.
	EndpointEvenements Endpoint = "evenements"
)

// endpoints lists every endpoint of the contract.
var endpoints = []Endpoint{EndpointToken, EndpointFichesPenales, EndpointDecisions,
	EndpointMesures, EndpointEvenementsDetention, EndpointEvenements}

// Valid reports whether e is an endpoint of the contract.
func (e Endpoint) Valid() bool {
	for _, x := range endpoints {
		if e == x {
			return true
		}
	}
	return false
}

// isWrite reports whether e is one of the four POST endpoints that store an item.
func (e Endpoint) isWrite() bool { return Kind(e).Valid() }

// FicheKey is the key of a fiche pénale: numeroEcrou + codeEtablissement.
func FicheKey(numeroEcrou, codeEtablissement string) string {
	return numeroEcrou + "@" + codeEtablissement
}

// DecisionKey is the key of a décision: numeroParquet + the matched dossier.
func DecisionKey(numeroParquet, dossierID string) string {
	return numeroParquet + "@" + dossierID
}

// MesureKey is the key of a mesure: its numeroMesure.
func MesureKey(numeroMesure string) string { return numeroMesure }

// EvenementDetentionKey is the key of a custody event: its sequenceGenesis.
func EvenementDetentionKey(sequenceGenesis int64) string {
	return strconv.FormatInt(sequenceGenesis, 10)
}

// Accuse is PRISME's acknowledgement of receipt (accusé de réception), the body of a
// 201 or 200 answer to a write.
type Accuse struct {
	// ID is PRISME's id of the stored item.
	ID string `json:"id"`
	// DossierID is the file the item was attached to.
	DossierID string `json:"dossierId"`
	// RecuLe is when PRISME stored the item.
	RecuLe time.Time `json:"recuLe"`
	// Courant is true when the item became the current one for its key.
	Courant bool `json:"courant"`
}

// Request is one request the simulator received, as recorded in arrival order.
type Request struct {
	// Seq numbers the requests from 1 in arrival order.
	Seq int64 `json:"seq"`
	// At is when the request arrived.
	At time.Time `json:"at"`
	// Endpoint is the endpoint called (empty for a path outside the contract).
	Endpoint Endpoint `json:"endpoint"`
	// Method is the HTTP method.
	Method string `json:"method"`
	// ClientID is the authenticated client, when the token was valid.
	ClientID string `json:"clientId,omitempty"`
	// IdempotencyKey is the Idempotency-Key header as sent.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// CorrelationID is the X-Correlation-Id header as sent.
	CorrelationID string `json:"correlationId,omitempty"`
	// Status is the HTTP status answered; for a dropped reply, the status the request
	// would have had (201: the item was stored).
	Status int `json:"status"`
	// ReplyDropped is true when the connection was closed instead of answering.
	ReplyDropped bool `json:"replyDropped,omitempty"`
	// Fault names the injected fault that decided the answer, if any
	// ("status", "drop-reply", "repeat-page").
	Fault string `json:"fault,omitempty"`
	// ItemKey is the key of the item the body describes (see FicheKey and the others),
	// read from the body even when the request failed. For a décision whose person
	// matches no dossier yet, it ends with "@?".
	ItemKey string `json:"itemKey,omitempty"`
	// Version is the body's version (fiche, mesure), numeroTransmission (décision) or
	// sequenceGenesis (custody event), when readable.
	Version *int64 `json:"version,omitempty"`
	// ItemID is the PRISME id of the item stored or replayed (201, 200).
	ItemID string `json:"itemId,omitempty"`
	// DossierID is the dossier answered (201, 200).
	DossierID string `json:"dossierId,omitempty"`
	// Courant is the Accuse's courant (201, 200).
	Courant *bool `json:"courant,omitempty"`
	// MatchedBy tells how the person was matched on a 201: "ecrou", "appi",
	// "nom-naissance", "nouveau" (a new dossier), or "deja-detenu" (a custody event
	// already held, answered with that event's dossier).
	MatchedBy string `json:"matchedBy,omitempty"`
	// Cursor is the `apres` parameter of an events-feed request.
	Cursor string `json:"cursor,omitempty"`
	// Events is the number of events answered by an events-feed request.
	Events int `json:"events,omitempty"`
}

// Item is one item PRISME stored (a 201).
type Item struct {
	// ID is PRISME's id of the item (the Accuse's id).
	ID string `json:"id"`
	// Kind is the item's kind.
	Kind Kind `json:"kind"`
	// Key identifies what the item is a state of (see FicheKey and the others).
	Key string `json:"key"`
	// Version is the version, numeroTransmission or sequenceGenesis.
	Version int64 `json:"version"`
	// DossierID is the dossier the item is attached to.
	DossierID string `json:"dossierId"`
	// RecuLe is when the item was stored.
	RecuLe time.Time `json:"recuLe"`
	// Courant is what the Accuse answered: true when the item became current.
	Courant bool `json:"courant"`
	// ClientID is the client that pushed the item.
	ClientID string `json:"clientId"`
	// IdempotencyKey is the key it was pushed with.
	IdempotencyKey string `json:"idempotencyKey"`
	// Body is the JSON body as received.
	Body json.RawMessage `json:"body"`
}

// Ecrou is a committal number with its establishment.
type Ecrou struct {
	// NumeroEcrou is the committal number.
	NumeroEcrou string `json:"numeroEcrou"`
	// CodeEtablissement is the establishment's code.
	CodeEtablissement string `json:"codeEtablissement"`
}

// Dossier is a person's file in PRISME, with the identifiers it learned.
type Dossier struct {
	// ID is the dossierId answered to partners; it never changes.
	ID string `json:"id"`
	// Nom is the last name the file was created with.
	Nom string `json:"nom"`
	// Prenoms are the first names the file was created with.
	Prenoms []string `json:"prenoms"`
	// DateNaissance is the birth date (AAAA-MM-JJ).
	DateNaissance string `json:"dateNaissance"`
	// Ecrous are the committal numbers attached to the file.
	Ecrous []Ecrou `json:"ecrous,omitempty"`
	// NumeroDossierAppi is the APPI file number, when known.
	NumeroDossierAppi string `json:"numeroDossierAppi,omitempty"`
	// NumerosParquet are the case numbers seen for the person (never used to match).
	NumerosParquet []string `json:"numerosParquet,omitempty"`
	// CreeLe is when the file was created.
	CreeLe time.Time `json:"creeLe"`
}

// Stats counts what the simulator answered and holds.
type Stats struct {
	// Requests is the number of requests received.
	Requests int64 `json:"requests"`
	// ByStatus counts answered requests per HTTP status (dropped replies excluded).
	ByStatus map[int]int64 `json:"byStatus"`
	// ByEndpoint counts answered requests per endpoint and status.
	ByEndpoint map[Endpoint]map[int]int64 `json:"byEndpoint"`
	// DroppedReplies counts requests applied and then left without an answer.
	DroppedReplies int64 `json:"droppedReplies"`
	// Stored counts the items stored per kind (history included).
	Stored map[Kind]int `json:"stored"`
	// Current counts the current items per kind.
	Current map[Kind]int `json:"current"`
	// Dossiers is the number of dossiers.
	Dossiers int `json:"dossiers"`
	// Events is the number of outgoing events.
	Events int `json:"events"`
	// TokensIssued counts the tokens issued.
	TokensIssued int64 `json:"tokensIssued"`
}
