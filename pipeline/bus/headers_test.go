package bus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
)

// randomMessage is a canonical message with random attributes: any UTF-8 text
// (accents, CJK, emoji), any time from year 1 to 9999 in any offset, with or without
// nanoseconds, any non-negative version.
func randomMessage(r *rand.Rand) *canonical.Message {
	text := func(minLen, maxLen int) string {
		const alphabet = "abcXYZ019-._:/|éèçœ中文🙂 "
		runes := []rune(alphabet)
		n := minLen + r.IntN(maxLen-minLen+1)
		var b strings.Builder
		for range n {
			b.WriteRune(runes[r.IntN(len(runes))])
		}
		return b.String()
	}
	zone := time.FixedZone("", (r.IntN(27)-12)*3600+r.IntN(2)*1800)
	if r.IntN(3) == 0 {
		zone = time.UTC
	}
	t := time.Date(1+r.IntN(9999), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), 0, zone)
	if r.IntN(2) == 0 {
		t = t.Add(time.Duration(r.IntN(1e9)))
	}
	data, _ := json.Marshal(map[string]string{"v": text(0, 300)})
	contentType := canonical.ContentTypeJSON
	if r.IntN(4) == 0 {
		contentType = "" // optional attribute
	}
	return &canonical.Message{
		SpecVersion:     canonical.SpecVersion,
		ID:              text(1, 40),
		Source:          "/connectors/" + text(1, 20),
		Type:            "fr.justice." + text(1, 20) + ".v1",
		Time:            t,
		Subject:         text(1, 64),
		DataSchema:      "urn:passerelle:schema:" + text(1, 30),
		DataContentType: contentType,
		FactSystem:      text(1, 32),
		FactRef:         text(1, 256),
		FactVersion:     r.Int64N(1 << 62),
		Data:            data,
	}
}

// requireSameMessage compares two messages, times by instant (the offset may be
// written differently, e.g. +00:00 and Z).
func requireSameMessage(t *testing.T, want, got *canonical.Message) {
	t.Helper()
	require.True(t, want.Time.Equal(got.Time), "time: want %s, got %s", want.Time, got.Time)
	w, g := *want, *got
	w.Time, g.Time = time.Time{}, time.Time{}
	if w.DataContentType == "" {
		w.DataContentType = canonical.ContentTypeJSON
	}
	require.Equal(t, w, g)
}

func TestHeadersRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		m := randomMessage(r)
		km := ToKafka(m, "passerelle.t")
		got, err := FromKafka(km)
		require.NoError(t, err, "message %d", i)
		requireSameMessage(t, m, got)
	}
}

func TestToKafkaWritesTheCloudEventsKafkaBinding(t *testing.T) {
	m := testMessage(t, "P-000042", 7)
	km := ToKafka(m, "passerelle.fr.justice.penal-record.v1")

	assert.Equal(t, "passerelle.fr.justice.penal-record.v1", km.Topic)
	assert.Equal(t, []byte("P-000042"), km.Key, "the key is the canonical person id")
	assert.Equal(t, []byte(m.Data), km.Value)
	assert.True(t, km.Time.IsZero(), "the record timestamp is left to the producer")
	got := map[string]string{}
	for _, h := range km.Headers {
		got[h.Key] = string(h.Value)
	}
	assert.Equal(t, map[string]string{
		"ce_specversion": "1.0",
		"ce_id":          m.ID,
		"ce_source":      "/connectors/genesis",
		"ce_type":        "fr.justice.penal-record.v1",
		"ce_time":        "2024-04-12T09:30:00.123456789Z",
		"ce_subject":     "P-000042",
		"ce_dataschema":  "urn:passerelle:schema:penal-record:v1",
		"ce_factsystem":  "GENESIS",
		"ce_factref":     "fiche/24-0412/0750101",
		"ce_factversion": "7",
		"content-type":   "application/json",
	}, got)
	assert.Len(t, km.Headers, len(got), "no header is written twice")
}

func TestToKafkaHeaderValuesDoNotOverlap(t *testing.T) {
	km := ToKafka(testMessage(t, "P-1", 1), "t")
	before := make([]string, len(km.Headers))
	for i, h := range km.Headers {
		before[i] = string(h.Value)
	}
	for i := range km.Headers {
		_ = append(km.Headers[i].Value, "XXXXXXXX"...)
	}
	_ = append(km.Key, "YYYY"...)
	for i, h := range km.Headers {
		assert.Equal(t, before[i], string(h.Value), "appending to one value never writes into another")
	}
}

func TestToKafkaOfNilIsRefusedByFromKafka(t *testing.T) {
	km := ToKafka(nil, "t")
	assert.Equal(t, "t", km.Topic)
	_, err := FromKafka(km)
	require.ErrorIs(t, err, ErrMissingHeader)
}

func TestHeadersConversionsMakeTwoAllocationsEach(t *testing.T) {
	m := testMessage(t, "P-000042", 7)
	km := ToKafka(m, "topic")
	assert.InDelta(t, 2, testing.AllocsPerRun(100, func() { _ = ToKafka(m, "topic") }), 0)
	assert.InDelta(t, 2, testing.AllocsPerRun(100, func() { _, _ = FromKafka(km) }), 0)
}

// withHeader returns km with header name set to value (added if absent), or removed
// when value is nil.
func withHeader(km kafka.Message, name string, value []byte) kafka.Message {
	var hs []kafka.Header
	found := false
	for _, h := range km.Headers {
		if h.Key == name {
			found = true
			if value == nil {
				continue
			}
			h.Value = value
		}
		hs = append(hs, h)
	}
	if !found && value != nil {
		hs = append(hs, kafka.Header{Key: name, Value: value})
	}
	km.Headers = hs
	return km
}

func TestFromKafkaRefusesWhatIsNotACanonicalMessage(t *testing.T) {
	valid := ToKafka(testMessage(t, "P-000042", 7), "t")
	withExtra := func(name, value string) kafka.Message {
		km := valid
		km.Headers = append(append([]kafka.Header(nil), valid.Headers...), kafka.Header{Key: name, Value: []byte(value)})
		return km
	}
	type tc struct {
		name   string
		km     kafka.Message
		is     error
		header string
	}
	var cases []tc
	for _, h := range ceHeaders {
		cases = append(cases, tc{"a message without " + h + " is refused, naming it", withHeader(valid, h, nil), ErrMissingHeader, h})
		cases = append(cases, tc{"an empty " + h + " is refused", withHeader(valid, h, []byte{}), ErrInvalidHeader, h})
	}
	noValue := valid
	noValue.Value = nil
	cases = append(cases,
		tc{"a ce_id that is not UTF-8 is refused", withHeader(valid, HeaderID, []byte{0xff, 0xfe}), ErrInvalidHeader, HeaderID},
		tc{"a repeated ce_ header is refused", withExtra(HeaderID, "other"), ErrInvalidHeader, HeaderID},
		tc{"a repeated content-type is refused", withExtra(HeaderContentType, "application/json"), ErrInvalidHeader, HeaderContentType},
		tc{"an attribute the closed envelope lacks is refused", withExtra("ce_traceparent", "00-abc"), ErrUnknownHeader, "ce_traceparent"},
		tc{"datacontenttype as a ce_ header is refused (binary mode uses content-type)", withExtra("ce_datacontenttype", "application/json"), ErrUnknownHeader, "ce_datacontenttype"},
		tc{"a specversion other than 1.0 is refused", withHeader(valid, HeaderSpecVersion, []byte("0.3")), ErrInvalidHeader, HeaderSpecVersion},
		tc{"a time that is not RFC 3339 is refused", withHeader(valid, HeaderTime, []byte("12/04/2024 09:30")), ErrInvalidHeader, HeaderTime},
		tc{"a negative factversion is refused", withHeader(valid, HeaderFactVersion, []byte("-1")), ErrInvalidHeader, HeaderFactVersion},
		tc{"a factversion that is not an integer is refused", withHeader(valid, HeaderFactVersion, []byte("7.0")), ErrInvalidHeader, HeaderFactVersion},
		tc{"a factversion beyond int64 is refused", withHeader(valid, HeaderFactVersion, []byte("9223372036854775808")), ErrInvalidHeader, HeaderFactVersion},
		tc{"a structured-mode record is refused", withHeader(valid, HeaderContentType, []byte("application/cloudevents+json")), ErrInvalidHeader, HeaderContentType},
		tc{"a content-type other than JSON is refused", withHeader(valid, HeaderContentType, []byte("text/plain")), ErrInvalidHeader, HeaderContentType},
		tc{"a message without a value is refused", noValue, ErrNoData, ""},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromKafka(c.km)
			require.ErrorIs(t, err, c.is)
			assert.Contains(t, err.Error(), c.header)
			assert.NotContains(t, err.Error(), "P-000042", "errors never carry values")
			assert.NotContains(t, err.Error(), "0750101", "errors never carry values")
		})
	}
}

func TestFromKafkaAcceptsWhatTheBindingAllows(t *testing.T) {
	m := testMessage(t, "P-000042", 0)
	valid := ToKafka(m, "t")
	cases := []struct {
		name string
		km   kafka.Message
		want string // DataContentType
	}{
		{"a content-type with parameters is JSON", withHeader(valid, HeaderContentType, []byte("Application/JSON; charset=utf-8")), canonical.ContentTypeJSON},
		{"a message without content-type has no datacontenttype", withHeader(valid, HeaderContentType, nil), ""},
		{"headers outside the ce_ namespace are ignored", withHeader(valid, "traceparent", []byte("00-abc")), canonical.ContentTypeJSON},
		{"a time without fraction or with an offset is RFC 3339", withHeader(valid, HeaderTime, []byte("2024-04-12T11:30:00+02:00")), canonical.ContentTypeJSON},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromKafka(c.km)
			require.NoError(t, err)
			assert.Equal(t, c.want, got.DataContentType)
			assert.Equal(t, m.ID, got.ID)
			assert.Equal(t, int64(0), got.FactVersion)
		})
	}
}

func TestFromKafkaErrorsShortenOddHeaderNames(t *testing.T) {
	km := ToKafka(testMessage(t, "P-1", 1), "t")
	km.Headers = append(km.Headers, kafka.Header{Key: "ce_" + strings.Repeat("z", 5000), Value: []byte("v")})
	_, err := FromKafka(km)
	require.ErrorIs(t, err, ErrUnknownHeader)
	assert.Less(t, len(err.Error()), 200)
}

func FuzzFromKafka(f *testing.F) {
	m := &canonical.Message{
		SpecVersion: "1.0", ID: "0b6f7c1e-2f0a-4c53-9a54-5d5b0b1f3c11", Source: "/connectors/genesis",
		Type: canonical.TypePenalRecord, Time: time.Date(2024, 4, 12, 9, 30, 0, 0, time.UTC), Subject: "P-000042",
		DataSchema: canonical.DataSchemaPenalRecord, FactSystem: "GENESIS", FactRef: "fiche/24-0412/0750101", FactVersion: 3,
		Data: json.RawMessage(`{"committalNumber":"24-0412"}`),
	}
	seed := func(m *canonical.Message, ct, extraName, extraValue string) {
		f.Add(m.SpecVersion, m.ID, m.Source, m.Type, m.Time.Format(time.RFC3339Nano), m.Subject, m.DataSchema,
			m.FactSystem, m.FactRef, fmt.Sprint(m.FactVersion), ct, []byte(m.Data), extraName, extraValue)
	}
	seed(m, "application/json", "", "")
	seed(m, "", "traceparent", "00-abc")
	seed(m, "application/cloudevents+json", "ce_other", "x")
	seed(m, "application/json; charset=utf-8", "ce_id", "again")
	bad := *m
	bad.SpecVersion, bad.ID = "0.3", ""
	seed(&bad, "text/plain", "content-type", "application/json")
	f.Fuzz(func(t *testing.T, spec, id, source, typ, tm, subject, schema, system, ref, version, ct string, value []byte, extraName, extraValue string) {
		km := kafka.Message{Topic: "t", Key: []byte(subject), Value: value, Headers: []kafka.Header{
			{Key: HeaderSpecVersion, Value: []byte(spec)}, {Key: HeaderID, Value: []byte(id)},
			{Key: HeaderSource, Value: []byte(source)}, {Key: HeaderType, Value: []byte(typ)},
			{Key: HeaderTime, Value: []byte(tm)}, {Key: HeaderSubject, Value: []byte(subject)},
			{Key: HeaderDataSchema, Value: []byte(schema)}, {Key: HeaderFactSystem, Value: []byte(system)},
			{Key: HeaderFactRef, Value: []byte(ref)}, {Key: HeaderFactVersion, Value: []byte(version)},
		}}
		if ct != "" {
			km.Headers = append(km.Headers, kafka.Header{Key: HeaderContentType, Value: []byte(ct)})
		}
		if extraName != "" {
			km.Headers = append(km.Headers, kafka.Header{Key: extraName, Value: []byte(extraValue)})
		}
		got, err := FromKafka(km)
		if err != nil {
			return
		}
		// What FromKafka accepts, ToKafka writes back so that FromKafka reads the
		// same message.
		again, err := FromKafka(ToKafka(got, "t"))
		require.NoError(t, err)
		requireSameMessage(t, got, again)
	})
}
