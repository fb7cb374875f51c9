package bus

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"passerelle/canonical"
)

// The Kafka headers of the CloudEvents 1.0 Kafka protocol binding, binary content mode:
// each attribute as ce_<name>, datacontenttype as content-type.
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderSource      = "ce_source"
	HeaderType        = "ce_type"
	HeaderTime        = "ce_time"
	HeaderSubject     = "ce_subject"
	HeaderDataSchema  = "ce_dataschema"
	HeaderFactSystem  = "ce_factsystem"
	HeaderFactRef     = "ce_factref"
	HeaderFactVersion = "ce_factversion"
	HeaderContentType = "content-type"
)

// ceHeaders are the ce_ headers every canonical message carries, in the order ToKafka
// writes them; the index of each is its bit in FromKafka's bookkeeping.
var ceHeaders = [...]string{
	HeaderSpecVersion, HeaderID, HeaderSource, HeaderType, HeaderTime, HeaderSubject,
	HeaderDataSchema, HeaderFactSystem, HeaderFactRef, HeaderFactVersion,
}

// headerNames are the headers ToKafka writes, in order: the ce_ headers, then
// content-type.
var headerNames = [...]string{
	HeaderSpecVersion, HeaderID, HeaderSource, HeaderType, HeaderTime, HeaderSubject,
	HeaderDataSchema, HeaderFactSystem, HeaderFactRef, HeaderFactVersion, HeaderContentType,
}

// subjectHeader is the position of ce_subject in headerNames: the key shares its bytes.
const subjectHeader = 5

// maxTimeLen is the longest time.RFC3339Nano rendering of a time whose year has four
// digits; longer years take what they need (AppendFormat grows the buffer).
const maxTimeLen = len("2006-01-02T15:04:05.999999999-07:00")

// maxInt64Len is the longest decimal rendering of an int64.
const maxInt64Len = len("-9223372036854775808")

// ToKafka renders m in the CloudEvents Kafka binding, binary mode, for topic: the key
// is the subject (the canonical person id, so that a person's facts share a
// partition), the value is m.Data (shared, not copied), and every other attribute is
// a header: ce_time in RFC 3339 with nanoseconds, ce_factversion in decimal, and
// content-type for datacontenttype (application/json when m leaves it empty: canonical
// data is always JSON). The record's own timestamp is left to the producer (the time
// it is sent): m.Time may be years old, and a broker with time-based retention would
// otherwise delete the record at once. A nil m gives a message with no headers, which
// FromKafka refuses.
//
// It makes two allocations, whatever the message: the header slice, and one buffer
// that every header value is a slice of (capped, so that appending to one never
// writes into the next); the key is the ce_subject value.
func ToKafka(m *canonical.Message, topic string) kafka.Message {
	if m == nil {
		return kafka.Message{Topic: topic}
	}
	contentType := m.DataContentType
	if contentType == "" {
		contentType = canonical.ContentTypeJSON
	}
	buf := make([]byte, 0, len(m.SpecVersion)+len(m.ID)+len(m.Source)+len(m.Type)+maxTimeLen+
		len(m.Subject)+len(m.DataSchema)+len(m.FactSystem)+len(m.FactRef)+maxInt64Len+len(contentType))
	var ends [len(headerNames)]int
	buf = append(buf, m.SpecVersion...)
	ends[0] = len(buf)
	buf = append(buf, m.ID...)
	ends[1] = len(buf)
	buf = append(buf, m.Source...)
	ends[2] = len(buf)
	buf = append(buf, m.Type...)
	ends[3] = len(buf)
	buf = m.Time.AppendFormat(buf, time.RFC3339Nano)
	ends[4] = len(buf)
	buf = append(buf, m.Subject...)
	ends[5] = len(buf)
	buf = append(buf, m.DataSchema...)
	ends[6] = len(buf)
	buf = append(buf, m.FactSystem...)
	ends[7] = len(buf)
	buf = append(buf, m.FactRef...)
	ends[8] = len(buf)
	buf = strconv.AppendInt(buf, m.FactVersion, 10)
	ends[9] = len(buf)
	buf = append(buf, contentType...)
	ends[10] = len(buf)

	headers := make([]kafka.Header, len(headerNames))
	start := 0
	for i, name := range headerNames {
		headers[i] = kafka.Header{Key: name, Value: buf[start:ends[i]:ends[i]]}
		start = ends[i]
	}
	return kafka.Message{Topic: topic, Key: headers[subjectHeader].Value, Value: m.Data, Headers: headers}
}

// FromKafka reads a canonical message from a Kafka message in the CloudEvents binding,
// binary mode, strictly: every ce_ header ToKafka writes is required, non-empty, UTF-8
// and present once; ce_specversion must be 1.0, ce_time RFC 3339, ce_factversion a
// decimal integer ≥ 0; a ce_ header the canonical envelope does not have is refused
// (the envelope is closed); content-type, when present, must be application/json (a
// CloudEvents structured-mode record, application/cloudevents+json, is refused).
// Headers outside the ce_ namespace are ignored. The key is not read: the subject
// header is the authority. Errors wrap ErrMissingHeader, ErrInvalidHeader,
// ErrUnknownHeader or ErrNoData, and name the header, never a value (values identify
// people). Data shares km.Value; it is not parsed here (the policy does).
//
// It makes two allocations: the message, and one string that every attribute is a
// substring of.
func FromKafka(km kafka.Message) (*canonical.Message, error) {
	var (
		idx   [len(ceHeaders)]int // index+1 in km.Headers of each ce_ header, 0 when absent
		ctIdx int                 // index+1 of content-type
		total int
	)
	for i := range km.Headers {
		h := &km.Headers[i]
		if h.Key == HeaderContentType {
			if ctIdx != 0 {
				return nil, fmt.Errorf("%w: %s appears more than once", ErrInvalidHeader, HeaderContentType)
			}
			ctIdx = i + 1
			continue
		}
		if !strings.HasPrefix(h.Key, "ce_") {
			continue
		}
		bit := ceIndex(h.Key)
		if bit < 0 {
			return nil, fmt.Errorf("%w: %s", ErrUnknownHeader, safeName(h.Key))
		}
		if idx[bit] != 0 {
			return nil, fmt.Errorf("%w: %s appears more than once", ErrInvalidHeader, h.Key)
		}
		if len(h.Value) == 0 {
			return nil, fmt.Errorf("%w: %s is empty", ErrInvalidHeader, h.Key)
		}
		if !utf8.Valid(h.Value) {
			return nil, fmt.Errorf("%w: %s is not UTF-8", ErrInvalidHeader, h.Key)
		}
		idx[bit] = i + 1
		total += len(h.Value)
	}
	for bit, at := range idx {
		if at == 0 {
			return nil, fmt.Errorf("%w: %s", ErrMissingHeader, ceHeaders[bit])
		}
	}
	contentType := ""
	if ctIdx != 0 {
		v := km.Headers[ctIdx-1].Value
		if !isJSONContentType(v) {
			return nil, fmt.Errorf("%w: %s is not %s", ErrInvalidHeader, HeaderContentType, canonical.ContentTypeJSON)
		}
		contentType = canonical.ContentTypeJSON
	}
	if len(km.Value) == 0 {
		return nil, ErrNoData
	}

	// One string holds every value; each attribute is a substring of it.
	var b strings.Builder
	b.Grow(total)
	var ends [len(ceHeaders)]int
	for bit, at := range idx {
		b.Write(km.Headers[at-1].Value)
		ends[bit] = b.Len()
	}
	all := b.String()
	value := func(bit int) string {
		start := 0
		if bit > 0 {
			start = ends[bit-1]
		}
		return all[start:ends[bit]]
	}

	if v := value(0); v != canonical.SpecVersion {
		return nil, fmt.Errorf("%w: %s is not %s", ErrInvalidHeader, HeaderSpecVersion, canonical.SpecVersion)
	}
	t, err := time.Parse(time.RFC3339Nano, value(4))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not an RFC 3339 time", ErrInvalidHeader, HeaderTime)
	}
	version, err := strconv.ParseInt(value(9), 10, 64)
	if err != nil || version < 0 {
		return nil, fmt.Errorf("%w: %s is not an integer ≥ 0", ErrInvalidHeader, HeaderFactVersion)
	}
	return &canonical.Message{
		SpecVersion:     canonical.SpecVersion,
		ID:              value(1),
		Source:          value(2),
		Type:            value(3),
		Time:            t,
		Subject:         value(5),
		DataSchema:      value(6),
		DataContentType: contentType,
		FactSystem:      value(7),
		FactRef:         value(8),
		FactVersion:     version,
		Data:            km.Value,
	}, nil
}

// ceIndex returns the position of a ce_ header in ceHeaders, or -1.
func ceIndex(name string) int {
	switch name {
	case HeaderSpecVersion:
		return 0
	case HeaderID:
		return 1
	case HeaderSource:
		return 2
	case HeaderType:
		return 3
	case HeaderTime:
		return 4
	case HeaderSubject:
		return 5
	case HeaderDataSchema:
		return 6
	case HeaderFactSystem:
		return 7
	case HeaderFactRef:
		return 8
	case HeaderFactVersion:
		return 9
	}
	return -1
}

// isJSONContentType accepts application/json, in any case, with optional parameters
// (application/json; charset=utf-8), as media types allow.
func isJSONContentType(v []byte) bool {
	const want = canonical.ContentTypeJSON
	if len(v) < len(want) || !strings.EqualFold(string(v[:len(want)]), want) {
		return false
	}
	rest := v[len(want):]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	return len(rest) == 0 || rest[0] == ';'
}

// safeName renders a header name from the input for an error message: quoted, and cut
// short, so that an odd or huge name cannot fill a log line.
func safeName(name string) string {
	const maxLen = 64
	if len(name) > maxLen {
		return strconv.Quote(name[:maxLen]) + "…"
	}
	return strconv.Quote(name)
}
