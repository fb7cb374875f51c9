package genesis

import (
	"errors"
	"fmt"

	"passerelle/connectors"
)

// Sentinels, for errors.Is. Every error the Client returns is also marked
// connectors.ErrTransient or connectors.ErrPermanent (see Transient), except the
// caller's own context ending, which is neither.
var (
	// ErrFicheInconnue: GENESIS answered the FicheInconnue fault (the fiche was removed
	// or never existed). Permanent: the answer will not change. The error is a
	// *FicheInconnueError.
	ErrFicheInconnue = errors.New("genesis: fiche inconnue")
	// ErrServiceIndisponible: HTTP 503 or the ServiceIndisponible fault, still there
	// after the retries. Transient.
	ErrServiceIndisponible = errors.New("genesis: service indisponible")
	// ErrResponseTooLarge: the response exceeds Options.MaxResponseBytes. Permanent:
	// the same request would get the same response; raise the limit if it is genuine.
	ErrResponseTooLarge = errors.New("genesis: response too large")
	// ErrInvalidResponse: the response does not follow the WSDL (malformed XML, a
	// required element missing, an impossible date, a value outside an enumeration).
	// Permanent. The error is an *InvalidResponseError carrying the raw response.
	ErrInvalidResponse = errors.New("genesis: invalid response")
	// ErrFault: a SOAP fault other than the two the WSDL declares. The error is a
	// *FaultError; see its Transient field for why it is classified as it is.
	ErrFault = errors.New("genesis: SOAP fault")
	// ErrHTTPStatus: an HTTP status the contract does not describe (a proxy's 502, a
	// 404 for a wrong URL, ...): 5xx, 408 and 429 are transient, the others permanent.
	ErrHTTPStatus = errors.New("genesis: unexpected HTTP status")
	// ErrInvalidArgument: the call's arguments cannot make a valid request. Permanent.
	ErrInvalidArgument = errors.New("genesis: invalid argument")
	// ErrInvalidOptions: New was given unusable Options.
	ErrInvalidOptions = errors.New("genesis: invalid options")
	// ErrInvalidPosition: Source.Read was given a position it never returned (not a
	// decimal sequence ≥ 0). Permanent: the checkpoint is corrupt.
	ErrInvalidPosition = errors.New("genesis: invalid position")
	// ErrInvalidRaw: Source.Decode was given bytes that are neither a
	// ConsulterFichePenale response nor a standalone movement. Permanent.
	ErrInvalidRaw = errors.New("genesis: invalid raw input")

	// errRawShape: a raw input that is well-formed XML but not one element.
	errRawShape = errors.New("not one XML element")
)

// Transient reports whether err is worth retrying later: GENESIS unavailable or slow,
// the network failing. The caller backs off (connectors.RetryAfter gives the delay
// GENESIS asked for, if any) and calls again; the Client has already retried within
// its own limits.
func Transient(err error) bool { return errors.Is(err, connectors.ErrTransient) }

// FicheInconnueError is GENESIS's FicheInconnue fault: the fiche it names does not
// exist (any more). errors.Is(err, ErrFicheInconnue) holds for it.
type FicheInconnueError struct {
	// NumeroEcrou and CodeEtablissement are the fault's detail (the key asked for when
	// GENESIS sent no detail). Technical identifiers, no personal data.
	NumeroEcrou       string
	CodeEtablissement string
}

// Error names the fiche by its technical key only.
func (e *FicheInconnueError) Error() string {
	return fmt.Sprintf("genesis: fiche inconnue (numéro d'écrou %q, établissement %q)", e.NumeroEcrou, e.CodeEtablissement)
}

// Is makes errors.Is(err, ErrFicheInconnue) hold.
func (e *FicheInconnueError) Is(target error) bool { return target == ErrFicheInconnue }

// FaultError is a SOAP fault other than FicheInconnue and ServiceIndisponible.
// errors.Is(err, ErrFault) holds for it.
type FaultError struct {
	// StatusCode is the HTTP status it came with.
	StatusCode int
	// Code is the faultcode as sent (e.g. "soap:Client").
	Code string
	// String is the faultstring: free text written by GENESIS, which may quote the
	// request or name a person. It is not part of Error(): never log it.
	String string
	// Transient is how the client classified it: soap:Server faults are transient
	// (SOAP 1.1 §4.4.1: the failure does not come from the message's content, so the
	// same message may succeed later); soap:Client faults are permanent (the message is
	// refused as it stands: sending it again cannot succeed); VersionMismatch and
	// MustUnderstand are permanent (GENESIS does not understand our envelope: a
	// configuration problem no retry fixes); an unknown faultcode follows its HTTP
	// status (5xx transient).
	Transient bool
}

// Error names the fault by its code and status, never by its free text.
func (e *FaultError) Error() string {
	return fmt.Sprintf("genesis: SOAP fault %s (HTTP %d)", e.Code, e.StatusCode)
}

// Is makes errors.Is(err, ErrFault) hold.
func (e *FaultError) Is(target error) bool { return target == ErrFault }

// StatusError is an HTTP status the contract does not describe, without a SOAP fault.
// errors.Is(err, ErrHTTPStatus) holds for it.
type StatusError struct {
	// StatusCode is the HTTP status received.
	StatusCode int
}

// Error names the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("genesis: unexpected HTTP status %d", e.StatusCode)
}

// Is makes errors.Is(err, ErrHTTPStatus) hold.
func (e *StatusError) Is(target error) bool { return target == ErrHTTPStatus }

// InvalidResponseError is a response that breaks the WSDL. errors.Is(err,
// ErrInvalidResponse) holds for it.
type InvalidResponseError struct {
	// Operation is ListerMouvements or ConsulterFichePenale.
	Operation string
	// Reason says which rule the response broke, naming elements, never values.
	Reason string
	// Raw is the response as received, for quarantine. Personal data: never log it.
	Raw []byte
	// cause is the underlying decoding error, whose text may quote a value.
	cause error
}

// Error gives the operation and the reason, never the response's content.
func (e *InvalidResponseError) Error() string {
	return fmt.Sprintf("genesis: %s: invalid response: %s", e.Operation, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidResponse) hold.
func (e *InvalidResponseError) Is(target error) bool { return target == ErrInvalidResponse }

// Unwrap returns the underlying decoding error, if any (its text may quote a value
// of the response: do not log it).
func (e *InvalidResponseError) Unwrap() error { return e.cause }
