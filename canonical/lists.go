package canonical

// Required arrays and the constructor rule.
//
// The schemas require some arrays even when empty (a remand prisoner's convictions, a
// measure without obligations, a person's first names), and encoding/json writes a nil
// slice as null. A custom MarshalJSON on those slices or on the payloads would fix that
// at a price measured here: encoding/json re-scans every byte a MarshalJSON returns,
// which made marshalling a penal record about four times slower. So the rule is a
// constructor rule instead: NewMessage writes every required array that was left nil
// as [], on a copy (the caller's value is not changed). Marshal a payload through
// NewMessage; a payload marshalled some other way with a nil required array is written
// null, which the schema refuses (type error at that array), so the mistake cannot go
// unnoticed.

// Ptr returns a pointer to v, for the optional fields whose zero value is meaningful
// (amounts, booleans): canonical.Ptr(true).
func Ptr[T any](v T) *T { return &v }

// withRequiredLists returns data with every required array left nil made empty, for
// the six payloads (value or pointer) and the shared parts that hold required arrays.
// Any other value, or a nil pointer, is returned as it is.
func withRequiredLists(data any) any {
	switch d := data.(type) {
	case PenalRecord:
		return d.withRequiredLists()
	case *PenalRecord:
		if d != nil {
			return d.withRequiredLists()
		}
	case CustodyEvent:
		return d.withRequiredLists()
	case *CustodyEvent:
		if d != nil {
			return d.withRequiredLists()
		}
	case Judgment:
		return d.withRequiredLists()
	case *Judgment:
		if d != nil {
			return d.withRequiredLists()
		}
	case Measure:
		return d.withRequiredLists()
	case *Measure:
		if d != nil {
			return d.withRequiredLists()
		}
	case CaseTransfer:
		return d.withRequiredLists()
	case *CaseTransfer:
		if d != nil {
			return d.withRequiredLists()
		}
	case Report:
		return d.withRequiredLists()
	case *Report:
		if d != nil {
			return d.withRequiredLists()
		}
	case Person:
		return d.withRequiredLists()
	case Conviction:
		return d.withRequiredLists()
	}
	return data
}

// orEmpty returns s, or an empty slice when s is nil.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (p Person) withRequiredLists() Person {
	p.FirstNames = orEmpty(p.FirstNames)
	return p
}

func (c Conviction) withRequiredLists() Conviction {
	c.Offences = orEmpty(c.Offences)
	c.Sentences = orEmpty(c.Sentences)
	return c
}

func (p PenalRecord) withRequiredLists() PenalRecord {
	p.Person = p.Person.withRequiredLists()
	if p.Convictions == nil {
		p.Convictions = []Conviction{}
		return p
	}
	for i := range p.Convictions {
		if p.Convictions[i].Offences == nil || p.Convictions[i].Sentences == nil {
			convictions := make([]Conviction, len(p.Convictions))
			for j, c := range p.Convictions {
				convictions[j] = c.withRequiredLists()
			}
			p.Convictions = convictions
			break
		}
	}
	return p
}

func (e CustodyEvent) withRequiredLists() CustodyEvent {
	e.Person = e.Person.withRequiredLists()
	return e
}

func (j Judgment) withRequiredLists() Judgment {
	j.Person = j.Person.withRequiredLists()
	j.Offences = orEmpty(j.Offences)
	j.Sentences = orEmpty(j.Sentences)
	return j
}

func (m Measure) withRequiredLists() Measure {
	m.Person = m.Person.withRequiredLists()
	m.Obligations = orEmpty(m.Obligations)
	return m
}

func (c CaseTransfer) withRequiredLists() CaseTransfer {
	c.Person = c.Person.withRequiredLists()
	c.Measures = orEmpty(c.Measures)
	return c
}

func (r Report) withRequiredLists() Report {
	r.Person = r.Person.withRequiredLists()
	return r
}
