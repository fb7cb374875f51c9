package canonical

import "slices"

// CloudEvents attributes that are the same for every canonical message.
const (
	// SpecVersion is the CloudEvents version of every message.
	SpecVersion = "1.0"
	// ContentTypeJSON is the datacontenttype of every message.
	ContentTypeJSON = "application/json"
)

// The $id of the schemas every type schema refers to.
const (
	// SchemaIDEnvelope is the $id of schemas/envelope.v1.json.
	SchemaIDEnvelope = "urn:passerelle:schema:envelope:v1"
	// SchemaIDCommon is the $id of schemas/common.v1.json.
	SchemaIDCommon = "urn:passerelle:schema:common:v1"
)

// The CloudEvents types of the canonical messages (attribute type).
const (
	// TypePenalRecord is a GENESIS penal record (fiche pénale).
	TypePenalRecord = "fr.justice.penal-record.v1"
	// TypeCustodyEvent is a GENESIS movement (mouvement de détention).
	TypeCustodyEvent = "fr.justice.custody-event.v1"
	// TypeJudgment is a Cassiopée criminal judgment for one defendant (décision pénale).
	TypeJudgment = "fr.justice.judgment.v1"
	// TypeMeasure is an APPI sentence-enforcement measure (mesure).
	TypeMeasure = "fr.justice.measure.v1"
	// TypeCaseTransfer is a PRISME case transfer (dessaisissement).
	TypeCaseTransfer = "fr.justice.case-transfer.v1"
	// TypeReport is a PRISME validated report (rapport validé).
	TypeReport = "fr.justice.report.v1"
)

// The schema URIs of the canonical types (attribute dataschema, and the $id of
// schemas/<name>.v1.json).
const (
	// DataSchemaPenalRecord is the schema of TypePenalRecord.
	DataSchemaPenalRecord = "urn:passerelle:schema:penal-record:v1"
	// DataSchemaCustodyEvent is the schema of TypeCustodyEvent.
	DataSchemaCustodyEvent = "urn:passerelle:schema:custody-event:v1"
	// DataSchemaJudgment is the schema of TypeJudgment.
	DataSchemaJudgment = "urn:passerelle:schema:judgment:v1"
	// DataSchemaMeasure is the schema of TypeMeasure.
	DataSchemaMeasure = "urn:passerelle:schema:measure:v1"
	// DataSchemaCaseTransfer is the schema of TypeCaseTransfer.
	DataSchemaCaseTransfer = "urn:passerelle:schema:case-transfer:v1"
	// DataSchemaReport is the schema of TypeReport.
	DataSchemaReport = "urn:passerelle:schema:report:v1"
)

// The short names of the canonical types: schema file names (<name>.v1.json), example
// folders (schemas/examples/<name>), topic names.
const (
	// NamePenalRecord is the short name of TypePenalRecord.
	NamePenalRecord = "penal-record"
	// NameCustodyEvent is the short name of TypeCustodyEvent.
	NameCustodyEvent = "custody-event"
	// NameJudgment is the short name of TypeJudgment.
	NameJudgment = "judgment"
	// NameMeasure is the short name of TypeMeasure.
	NameMeasure = "measure"
	// NameCaseTransfer is the short name of TypeCaseTransfer.
	NameCaseTransfer = "case-transfer"
	// NameReport is the short name of TypeReport.
	NameReport = "report"
)

// The source systems of the first connectors (attribute factsystem); a connector
// added later names its own, upper case.
const (
	// SystemGenesis is the prison-management system.
	SystemGenesis = "GENESIS"
	// SystemCassiopee is the courts' criminal-procedure system.
	SystemCassiopee = "CASSIOPEE"
	// SystemAPPI is the sentence-enforcement system.
	SystemAPPI = "APPI"
	// SystemPrisme is the probation system.
	SystemPrisme = "PRISME"
)

// TypeInfo describes one canonical type: its CloudEvents type, short name, schema URI
// and Go payload.
type TypeInfo struct {
	// Type is the CloudEvents type, e.g. fr.justice.penal-record.v1.
	Type string
	// Name is the short name, e.g. penal-record.
	Name string
	// DataSchema is the schema URI, e.g. urn:passerelle:schema:penal-record:v1.
	DataSchema string
	newData    func() any
}

// NewData returns a pointer to a new zero payload of the type (*PenalRecord, ...), to
// decode a message's data into.
func (t TypeInfo) NewData() any { return t.newData() }

var types = []TypeInfo{
	{TypePenalRecord, NamePenalRecord, DataSchemaPenalRecord, func() any { return new(PenalRecord) }},
	{TypeCustodyEvent, NameCustodyEvent, DataSchemaCustodyEvent, func() any { return new(CustodyEvent) }},
	{TypeJudgment, NameJudgment, DataSchemaJudgment, func() any { return new(Judgment) }},
	{TypeMeasure, NameMeasure, DataSchemaMeasure, func() any { return new(Measure) }},
	{TypeCaseTransfer, NameCaseTransfer, DataSchemaCaseTransfer, func() any { return new(CaseTransfer) }},
	{TypeReport, NameReport, DataSchemaReport, func() any { return new(Report) }},
}

// Types returns the canonical types, in the order of docs/canonical-model.md. The
// slice is a copy: changing it changes nothing here.
func Types() []TypeInfo { return slices.Clone(types) }

// LookupType returns the canonical type whose CloudEvents type is typ.
func LookupType(typ string) (TypeInfo, bool) {
	for _, t := range types {
		if t.Type == typ {
			return t, true
		}
	}
	return TypeInfo{}, false
}

// LookupName returns the canonical type whose short name is name.
func LookupName(name string) (TypeInfo, bool) {
	for _, t := range types {
		if t.Name == name {
			return t, true
		}
	}
	return TypeInfo{}, false
}

// typeOfData returns the CloudEvents type of a canonical payload (value or pointer),
// and false for any other value.
func typeOfData(data any) (string, bool) {
	switch data.(type) {
	case PenalRecord, *PenalRecord:
		return TypePenalRecord, true
	case CustodyEvent, *CustodyEvent:
		return TypeCustodyEvent, true
	case Judgment, *Judgment:
		return TypeJudgment, true
	case Measure, *Measure:
		return TypeMeasure, true
	case CaseTransfer, *CaseTransfer:
		return TypeCaseTransfer, true
	case Report, *Report:
		return TypeReport, true
	}
	return "", false
}
