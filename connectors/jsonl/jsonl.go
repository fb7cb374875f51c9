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
	"strconv"
	"sync"
	"sync/atomic"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
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
					if m, err := decode(f.Raw); err != nil {
						f.Err, f.Stage = err, "decode"
					} else {
						f.Messages = []*canonical.Message{m}
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
	m, err := decode(raw)
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

// decode reads one structured CloudEvent; unknown attributes are refused here, and
// the schemas check the rest.
func decode(line []byte) (*canonical.Message, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var m canonical.Message
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a canonical message: %s", describe(err))
	}
	if dec.More() {
		return nil, errors.New("not a canonical message: data after the object")
	}
	if len(m.Data) == 0 || m.Data[0] != '{' {
		return nil, errors.New("not a canonical message: data must be an object")
	}
	return &m, nil
}

// describe keeps the class of a decoding error without quoting input (which may be
// personal data).
func describe(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("attribute %q has the wrong type (%s)", te.Field, te.Value)
	default:
		msg := err.Error()
		if len(msg) > 120 {
			msg = msg[:120]
		}
		return msg
	}
}
