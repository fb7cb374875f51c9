package canonical

import (
	"bytes"
	"encoding/json"
	"testing"
)

func BenchmarkMarshalPenalRecord(b *testing.B) {
	m := penalRecordExample(b)
	var rec PenalRecord
	if err := m.DecodeData(&rec); err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(&rec)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalPenalRecord(b *testing.B) {
	m := penalRecordExample(b)
	var compact bytes.Buffer
	if err := json.Compact(&compact, m.Data); err != nil {
		b.Fatal(err)
	}
	m.Data = compact.Bytes() // as it travels in Kafka
	b.SetBytes(int64(len(m.Data)))
	b.ReportAllocs()
	for b.Loop() {
		var rec PenalRecord
		if err := m.DecodeData(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessageWithPenalRecord(b *testing.B) {
	m := penalRecordExample(b)
	raw, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		msg, err := DecodeMessage(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := msg.Payload(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewMessagePenalRecord(b *testing.B) {
	m := penalRecordExample(b)
	var rec PenalRecord
	if err := m.DecodeData(&rec); err != nil {
		b.Fatal(err)
	}
	fact, err := FactOf(&rec)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMessage(TypePenalRecord, m.Source, m.Subject, fact, m.Time, &rec); err != nil {
			b.Fatal(err)
		}
	}
}
