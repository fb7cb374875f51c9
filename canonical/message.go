package canonical

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// MaxIdempotencyKeyLen is the longest idempotency key a destination accepts (PRISME's
// Idempotency-Key header: 1..128 characters).
const MaxIdempotencyKeyLen = 128

// Message is a canonical message: a CloudEvents 1.0 event whose data is one of the
// canonical types, with the source's own identity of the fact as extension attributes
// (factsystem, factref, factversion). In Kafka it travels in binary mode: each
// attribute as a ce_<name> header, Data as the value.
type Message struct {
	// SpecVersion is the CloudEvents version, always SpecVersion.
	SpecVersion string `json:"specversion"`
	// ID is the message id, unique per message (a UUID).
	ID string `json:"id"`
	// Source is the connector that produced the message, e.g. /connectors/genesis.
	Source string `json:"source"`
	// Type is the canonical type, e.g. TypePenalRecord.
	Type string `json:"type"`
	// Time is when the source says the fact happened or was read.
	Time time.Time `json:"time"`
	// Subject is the canonical person id, the Kafka key.
	Subject string `json:"subject"`
	// DataSchema is the schema URI of the type, e.g. DataSchemaPenalRecord.
	DataSchema string `json:"dataschema"`
	// DataContentType is ContentTypeJSON, or empty (the attribute is optional).
	DataContentType string `json:"datacontenttype,omitempty"`
	// FactSystem is the source system of the fact, e.g. SystemGenesis.
	FactSystem string `json:"factsystem"`
	// FactRef is the source's own identity of the fact (see the *Ref helpers).
	FactRef string `json:"factref"`
	// FactVersion is the source's version or sequence of that fact.
	FactVersion int64 `json:"factversion"`
	// Data is the payload, the JSON of the type's struct.
	Data json.RawMessage `json:"data"`
}

// FactID is the source's own identity of a fact: its system, its reference there, and
// its version or sequence. Deduplication is on (System, Ref); Version orders states.
type FactID struct {
	// System is the source system, e.g. SystemGenesis.
	System string
	// Ref is the fact's reference in that system, e.g. fiche/24-0412/0750101.
	Ref string
	// Version is the fact's version or sequence there, ≥ 0.
	Version int64
}

// IdempotencyKey returns <system>:<ref>:<version>, the key a destination uses to
// recognise a repeat. A key longer than MaxIdempotencyKeyLen bytes is replaced by
// <system>:sha256:<hex of the full key>, and by sha256:<hex> when even that is too long
// (a system name the schema would refuse), so the result always fits.
func (f FactID) IdempotencyKey() string {
	key := f.System + ":" + f.Ref + ":" + strconv.FormatInt(f.Version, 10)
	if len(key) <= MaxIdempotencyKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	hashed := "sha256:" + hex.EncodeToString(sum[:])
	if len(f.System)+1+len(hashed) <= MaxIdempotencyKeyLen {
		return f.System + ":" + hashed
	}
	return hashed
}

// validate reports an identity no key can be derived from.
func (f FactID) validate() error {
	switch {
	case f.System == "":
		return fmt.Errorf("%w: empty system", ErrInvalidFact)
	case f.Ref == "":
		return fmt.Errorf("%w: empty reference", ErrInvalidFact)
	case f.Version < 0:
		return fmt.Errorf("%w: negative version %d", ErrInvalidFact, f.Version)
	}
	return nil
}

// Fact returns the message's fact identity.
func (m *Message) Fact() FactID {
	return FactID{System: m.FactSystem, Ref: m.FactRef, Version: m.FactVersion}
}

// IdempotencyKey returns the idempotency key of the message's fact (FactID.IdempotencyKey):
// the same fact in the same version always gives the same key, whatever the message id.
func (m *Message) IdempotencyKey() string { return m.Fact().IdempotencyKey() }

// NewMessage wraps a payload in a new message: a time-ordered (version 7) UUID as id,
// specversion, dataschema and datacontenttype filled from typ, data marshalled. data is
// the type's struct (value or pointer; its Go type must match typ), or a
// json.RawMessage taken as it is. A required array left nil in the struct is written
// [] (the constructor rule, see lists.go); data itself is not changed. NewMessage does
// not validate the payload against the schema: the pipeline does.
func NewMessage(typ, source, subject string, fact FactID, t time.Time, data any) (*Message, error) {
	info, ok := LookupType(typ)
	if !ok {
		return nil, fmt.Errorf("new message: %w: %q", ErrUnknownType, typ)
	}
	if dataType, known := typeOfData(data); known && dataType != typ {
		return nil, fmt.Errorf("new message: %w: a %s payload for type %s", ErrDataTypeMismatch, dataType, typ)
	}
	if err := fact.validate(); err != nil {
		return nil, fmt.Errorf("new message: %w", err)
	}
	var raw json.RawMessage
	switch d := data.(type) {
	case json.RawMessage:
		if !json.Valid(d) {
			return nil, fmt.Errorf("new message: raw data of type %s is not valid JSON", typ)
		}
		raw = bytes.Clone(d)
	default:
		b, err := json.Marshal(withRequiredLists(data))
		if err != nil {
			return nil, fmt.Errorf("new message: marshal %s data: %w", typ, err)
		}
		raw = b
	}
	// Version 7: unique like a random id, but ordered by creation, so that the
	// indexes keyed by message id (the outbox's, the deliveries', the audit's) grow at
	// their right edge instead of taking each insert at a random page of a large tree.
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new message: message id: %w", err)
	}
	return &Message{
		SpecVersion:     SpecVersion,
		ID:              id.String(),
		Source:          source,
		Type:            typ,
		Time:            t,
		Subject:         subject,
		DataSchema:      info.DataSchema,
		DataContentType: ContentTypeJSON,
		FactSystem:      fact.System,
		FactRef:         fact.Ref,
		FactVersion:     fact.Version,
		Data:            raw,
	}, nil
}

// DecodeMessage decodes a whole CloudEvents document (structured mode) strictly: an
// unknown attribute, a wrong JSON type or trailing data is an error. It does not
// validate against the schema, and leaves Data undecoded (see Payload).
func DecodeMessage(raw []byte) (*Message, error) {
	m := new(Message)
	if err := decodeStrict(raw, m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}

// DecodeData decodes the message's data into v strictly: an unknown field, a wrong
// JSON type or trailing data is an error.
func (m *Message) DecodeData(v any) error {
	if err := decodeStrict(m.Data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", m.Type, err)
	}
	return nil
}

// Payload decodes the message's data strictly into the struct of its type and returns
// a pointer to it (*PenalRecord, *CustodyEvent, ...).
func (m *Message) Payload() (any, error) {
	info, ok := LookupType(m.Type)
	if !ok {
		return nil, fmt.Errorf("decode data: %w: %q", ErrUnknownType, m.Type)
	}
	v := info.NewData()
	if err := m.DecodeData(v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeStrict decodes one JSON document into v, refusing unknown fields and anything
// but whitespace after the document. Its errors name fields and types, never values.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ErrTrailingData
	}
	return nil
}
