// Package declarative is a source connector defined only in configuration, for the
// simple cases — legacy exports dropped on disk, a partner's JSON endpoint — so that
// connecting one takes a YAML block, not a Go package:
//
//	connectors:
//	  appi-csv:
//	    kind: declarative
//	    settings:
//	      type: measure            # the canonical type the records become
//	      system: APPI             # their factsystem
//	      files: {dir: /srv/appi, separator: ";", encoding: latin1}
//	      fact: {ref: '"mesure/" + row.numero_mesure', version: 'int(row.seq)'}
//	      mapping:
//	        measureNumber: row.numero_mesure
//	        decisionDate: date(row.date_decision, "JJ/MM/AAAA")
//	        ...
//
// Records come from files dropped in a folder (CSV with a separator, a header or
// configured columns and an encoding — UTF-8, Latin-1, Windows-1252 —, or JSON lines)
// or from a JSON endpoint polled with a cursor. Each record (a line) is one fact. Its
// identity (fact.ref, fact.version) and every field of the canonical type (mapping,
// dotted paths) are CEL expressions (github.com/google/cel-go, the language of
// Kubernetes' admission rules) of the record: row (a CSV line's columns as text, or
// the JSON object), file and line (for the polled endpoint: the cursor the page was
// asked with and the item's place in it); with the strings extension, date(text, "JJ/MM/AAAA")
// (an impossible date is an error, never a guess) and fields(text, ";") (split, trim,
// drop the empty parts).
//
// The mapping is checked when the instance is built — at `passerelle config check`,
// before anything starts — against the canonical schema of its type: an expression
// that does not compile, a field the type does not have, an expression whose type
// cannot be the field's (a string for an integer), or a required field no expression
// produces is a problem at the path of its setting. At run time, each mapped message
// is validated against the schema too, so that a refused line's reason is known here
// and written in its file's report.
//
// Files: read in name order; the position records the files finished, the current
// file and the line and byte offset reached in it, and it is saved with the facts. A
// file whose records are committed (the pipeline gives Read only committed
// positions) is moved to done/ with a report (done/<n>_<name>.report.json: counts and
// one reason per rejected line); its rejected lines go to rejected/<n>_<name>.lines
// (as they were, with the header) and rejected/<n>_<name>.reasons (one reason per
// line, in the same order). A file whose header is refused goes to rejected/ whole.
// Nothing is deleted; <n> is the file's ordinal in reading order, so that a position
// read again finds a file already moved, and a name dropped twice never collides.
//
// HTTP: GET url?<cursor>=<position> answers {"items": [...], "next": "..."}; the
// position is the endpoint's own cursor, so a new instance resumes from the checkpoint
// alone. 5xx, 408 and 429 are transient (Retry-After honoured), other statuses and
// answers that are not that object are permanent.
//
// A line that cannot be decoded or mapped is a fact with its error (stage decode or
// map), quarantined with its raw input — for CSV the header line and the record in
// UTF-8, the file and line in its content type — and replayable through the Decoder.
// Error texts name columns, fields, lines and rules, never a value.
package declarative
