// Package jsonl is a generic source: a file of canonical messages, one structured
// CloudEvent (JSON) per line, read from the byte offset after the last line committed.
// The file may grow while the hub runs (it is read as a log). It loads exports already
// in the canonical format and is the source of the spine's crash tests and of the
// ingest benchmark.
//
// Each line is decoded once, with the hub's strict decoder (internal/jsonstrict: no
// repeated or unknown attribute, valid UTF-8, bounded numbers), which gives the
// attributes, the data's bytes as they were written and the data decoded for the
// schemas (connectors.Fact.Decoded), so that the pipeline does not decode it again.
//
// A line that is not a canonical message is quarantined with its bytes (stage decode)
// and never stops the file. A line without its final newline is not read yet: it may
// still be being written.
package jsonl
