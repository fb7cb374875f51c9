package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
	"passerelle/internal/jsonstrict"
)

// Config is the jsonl source's settings.
type Config struct {
	// Path is the file to read. Required.
	Path string `yaml:"path"`
	// BatchSize is the number of lines per batch. Default 1000.
	BatchSize int `yaml:"batchSize"`
	// MaxLine bounds one line, in bytes. Default 1 MiB.
	MaxLine int `yaml:"maxLine"`
}

// Spec registers the jsonl source.
var Spec = connectors.Spec{
	Kind:    "jsonl",
	Summary: "source: a file of canonical messages, one CloudEvents JSON object per line",
	New:     newInstance,
}

func newInstance(_ connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
	var c Config
	ps := config.DecodeSettings(settings, &c, path)
	if c.Path == "" {
		ps.Add(path+".path", "required")
	}
	if c.BatchSize < 0 || c.MaxLine < 0 {
		ps.Add(path, "batchSize and maxLine must be positive")
	}
	if len(ps) > 0 {
		return nil, ps
	}
	s := New(c)
	return &connectors.Instance{Source: s, Decoder: s}, nil
}

// Source reads one file.
type Source struct {
	cfg Config
}

// New returns a source over cfg.Path.
func New(cfg Config) *Source {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 1000
	}
	if cfg.MaxLine == 0 {
		cfg.MaxLine = 1 << 20
	}
	return &Source{cfg: cfg}
}

// Read returns the lines after the byte offset position.
func (s *Source) Read(ctx context.Context, position string) (connectors.Batch, error) {
	var off int64
	if position != "" {
		var err error
		if off, err = strconv.ParseInt(position, 10, 64); err != nil || off < 0 {
			return connectors.Batch{}, connectors.Permanent(fmt.Errorf("jsonl: bad position %q", position))
		}
	}
	f, err := os.Open(s.cfg.Path)
	if err != nil {
		return connectors.Batch{}, connectors.Transient(fmt.Errorf("jsonl: %w", err), 0)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return connectors.Batch{}, connectors.Transient(fmt.Errorf("jsonl: %w", err), 0)
	}
	r := bufio.NewReaderSize(f, 256<<10)
	batch := connectors.Batch{Next: strconv.FormatInt(off, 10)}
	for len(batch.Facts) < s.cfg.BatchSize && ctx.Err() == nil {
		line, n, err := readLine(r, s.cfg.MaxLine)
		if errors.Is(err, io.EOF) {
			break // an unterminated last line is not complete yet
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			return connectors.Batch{}, connectors.Transient(fmt.Errorf("jsonl: %w", err), 0)
		}
		off += int64(n)
		batch.Next = strconv.FormatInt(off, 10)
		body := bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(body)) == 0 {
			continue
		}
		fact := connectors.Fact{Raw: append([]byte(nil), body...), ContentType: "application/cloudevents+json"}
		if errors.Is(err, errLineTooLong) {
			fact.Raw = fact.Raw[:min(len(fact.Raw), 4096)]
			fact.Err, fact.Stage = fmt.Errorf("line longer than %d bytes", s.cfg.MaxLine), "decode"
		}
		batch.Facts = append(batch.Facts, fact)
	}
	decodeAll(batch.Facts)
	return batch, nil
}

// decodeAll decodes the lines of facts that have no error yet, on every core: a
// thousand CloudEvents of a few KiB each are tens of milliseconds of one core's work.
func decodeAll(facts []connectors.Fact) {
	const block = 64
	workers := min(runtime.GOMAXPROCS(0), (len(facts)+block-1)/block)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				lo := int(next.Add(block)) - block
				if lo >= len(facts) {
					return
				}
				for i := lo; i < min(lo+block, len(facts)); i++ {
					f := &facts[i]
					if f.Err != nil {
						continue
					}
					if m, data, err := DecodeLine(f.Raw); err != nil {
						f.Err, f.Stage = err, "decode"
					} else {
						f.Messages, f.Decoded = []*canonical.Message{m}, []any{data}
						f.Fact = &canonical.FactID{System: m.FactSystem, Ref: m.FactRef, Version: m.FactVersion}
					}
				}
			}
		})
	}
	wg.Wait()
}

// Decode re-reads a quarantined line (replay).
func (s *Source) Decode(_ context.Context, raw []byte, _ string) ([]*canonical.Message, error) {
	m, _, err := DecodeLine(raw)
	if err != nil {
		return nil, err
	}
	return []*canonical.Message{m}, nil
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line with its newline and the number of bytes it took;
// a line longer than maxLen is consumed whole and returned cut, with errLineTooLong.
// io.EOF means no complete line is left.
func readLine(r *bufio.Reader, maxLen int) ([]byte, int, error) {
	var line []byte
	n := 0
	for {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		if room := maxLen + 1 - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		switch {
		case err == nil:
			if n > maxLen+1 {
				return line, n, errLineTooLong
			}
			return line, n, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, n, err
		}
	}
}

// DecodeLine reads one line of a jsonl file, a structured CloudEvent, with the hub's
// strict decoder: one pass gives the attributes, the data's original bytes and the data
// decoded for the schemas (what Fact.Decoded carries), which the pipeline would
// otherwise decode a second time. Unknown, duplicate and mistyped attributes are
// refused here (names only, never values); the schemas check the rest. The benchmarks'
// ceiling runs it to do the source's CPU work without its I/O.
func DecodeLine(line []byte) (*canonical.Message, any, error) {
	// The line is already within the source's maxLine, which may be above the
	// decoder's default size limit.
	v, raw, err := jsonstrict.Limits{MaxBytes: int64(len(line)) + 1}.DecodeMember(line, "data")
	if err != nil {
		var je *jsonstrict.Error
		if errors.As(err, &je) {
			return nil, nil, fmt.Errorf("not a canonical message: %s", je.Reason())
		}
		return nil, nil, fmt.Errorf("not a canonical message: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, nil, errors.New("not a canonical message: not a JSON object")
	}
	if err := knownAttributes(obj); err != nil {
		return nil, nil, err
	}
	m := new(canonical.Message)
	for _, a := range stringAttributes {
		s, err := stringAttribute(obj, a.name)
		if err != nil {
			return nil, nil, err
		}
		*a.field(m) = s
	}
	if t, err := stringAttribute(obj, "time"); err != nil {
		return nil, nil, err
	} else if obj["time"] != nil {
		if err := m.Time.UnmarshalText([]byte(t)); err != nil {
			return nil, nil, errors.New(`not a canonical message: attribute "time" is not an RFC 3339 time`)
		}
	}
	if fv, ok := obj["factversion"]; ok && fv != nil {
		n, isNum := fv.(json.Number)
		if !isNum {
			return nil, nil, fmt.Errorf(`not a canonical message: attribute "factversion" has the wrong type (%s)`, jsonType(fv))
		}
		if m.FactVersion, err = strconv.ParseInt(string(n), 10, 64); err != nil {
			return nil, nil, errors.New(`not a canonical message: attribute "factversion" is not an integer of 64 bits`)
		}
	}
	data, isObject := obj["data"].(map[string]any)
	if !isObject {
		return nil, nil, errors.New("not a canonical message: data must be an object")
	}
	m.Data = raw
	return m, data, nil
}

// stringAttr is a string attribute of the envelope: its name and its field.
type stringAttr struct {
	name  string
	field func(*canonical.Message) *string
}

// stringAttributes are the CloudEvent's string attributes and where each goes.
var stringAttributes = []stringAttr{
	{"specversion", func(m *canonical.Message) *string { return &m.SpecVersion }},
	{"id", func(m *canonical.Message) *string { return &m.ID }},
	{"source", func(m *canonical.Message) *string { return &m.Source }},
	{"type", func(m *canonical.Message) *string { return &m.Type }},
	{"subject", func(m *canonical.Message) *string { return &m.Subject }},
	{"dataschema", func(m *canonical.Message) *string { return &m.DataSchema }},
	{"datacontenttype", func(m *canonical.Message) *string { return &m.DataContentType }},
	{"factsystem", func(m *canonical.Message) *string { return &m.FactSystem }},
	{"factref", func(m *canonical.Message) *string { return &m.FactRef }},
}

// knownAttributes refuses an attribute the canonical envelope does not have, naming
// the first in byte order (so that the same line always gives the same reason).
func knownAttributes(obj map[string]any) error {
	var unknown []string
	for k := range obj {
		switch k {
		case "time", "factversion", "data":
		default:
			if !slices.ContainsFunc(stringAttributes, func(a stringAttr) bool { return a.name == k }) {
				unknown = append(unknown, k)
			}
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	name := unknown[0]
	if r := []rune(name); len(r) > 40 {
		name = string(r[:40]) + "…"
	}
	return fmt.Errorf("not a canonical message: unknown attribute %q", name)
}

// stringAttribute returns obj[name] when it is a string, "" when it is absent or null.
func stringAttribute(obj map[string]any, name string) (string, error) {
	v, ok := obj[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("not a canonical message: attribute %q has the wrong type (%s)", name, jsonType(v))
	}
	return s, nil
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return "null"
	}
}
