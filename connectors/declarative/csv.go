package declarative

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// encodings are the character sets a file may be written in, by their configuration
// names.
var encodings = map[string]encoding.Encoding{
	"utf-8":        nil,
	"latin1":       charmap.ISO8859_1,
	"iso-8859-1":   charmap.ISO8859_1,
	"iso-8859-15":  charmap.ISO8859_15,
	"windows-1252": charmap.Windows1252,
}

// encodingNames lists the accepted names, for problems.
const encodingNames = "utf-8, latin1 (iso-8859-1), iso-8859-15, windows-1252"

// text decodes one line of the file's character set to UTF-8, without its line end (and
// a UTF-8 byte-order mark, on the first line).
func text(line []byte, enc encoding.Encoding) (string, error) {
	line = bytes.TrimRight(line, "\r\n")
	if enc == nil {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		if !utf8.Valid(line) {
			return "", fmt.Errorf("%w: the line is not valid UTF-8 (is the file's encoding set?)", ErrDecode)
		}
		return string(line), nil
	}
	out, err := enc.NewDecoder().Bytes(line)
	if err != nil {
		return "", fmt.Errorf("%w: the line is not in the configured encoding", ErrDecode)
	}
	return string(out), nil
}

// splitCSVLine splits one CSV line (without its line end) at sep. A field may be
// quoted with ", a quote inside it doubled (RFC 4180), and then holds separators; a
// quoted field cannot span lines (legacy exports write one record per line). A quote
// inside an unquoted field is kept as it is. Errors say where, never what.
func splitCSVLine(line string, sep rune) ([]string, error) {
	var (
		fields []string
		b      strings.Builder
	)
	i := 0
	for {
		b.Reset()
		if i < len(line) && line[i] == '"' {
			i++
			closed := false
			for i < len(line) {
				r, size := utf8.DecodeRuneInString(line[i:])
				if r == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteString(line[i : i+size])
				i += size
			}
			if !closed {
				return nil, fmt.Errorf("%w: field %d: a quoted field is not closed", ErrDecode, len(fields)+1)
			}
			if i < len(line) {
				r, size := utf8.DecodeRuneInString(line[i:])
				if r != sep || (r == utf8.RuneError && size == 1) {
					return nil, fmt.Errorf("%w: field %d: text after its closing quote", ErrDecode, len(fields)+1)
				}
				fields = append(fields, b.String())
				i += size
				continue
			}
			fields = append(fields, b.String())
			return fields, nil
		}
		j := i
		for j < len(line) {
			r, size := utf8.DecodeRuneInString(line[j:])
			if r == sep && (r != utf8.RuneError || size > 1) {
				break
			}
			j += size
		}
		fields = append(fields, line[i:j])
		if j == len(line) {
			return fields, nil
		}
		_, size := utf8.DecodeRuneInString(line[j:])
		i = j + size
	}
}

// lineFormat decodes the lines of one file format into records' rows.
type lineFormat interface {
	// header reads the header line, when the format has one, and returns the
	// columns; an error rejects the whole file.
	header(line []byte) ([]string, error)
	// row decodes one data line with the file's columns.
	row(line []byte, columns []string) (any, string, error)
	// hasHeader reports whether the first line is a header.
	hasHeader() bool
}

// csvFormat is CSV with a separator, an encoding and columns named by the header or
// the configuration.
type csvFormat struct {
	sep     rune
	enc     encoding.Encoding
	head    bool
	columns []string // configured; checked against the header when both are given
}

func (f csvFormat) hasHeader() bool { return f.head }

func (f csvFormat) header(line []byte) ([]string, error) {
	s, err := text(line, f.enc)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	cols, err := splitCSVLine(s, f.sep)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	seen := map[string]bool{}
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = c
		if c == "" || seen[c] {
			return nil, fmt.Errorf("%w: header: column %d is empty or repeated", ErrDecode, i+1)
		}
		seen[c] = true
	}
	if len(f.columns) > 0 {
		if len(cols) != len(f.columns) {
			return nil, fmt.Errorf("%w: header: %d columns, the configuration names %d", ErrDecode, len(cols), len(f.columns))
		}
		for i, c := range f.columns {
			if cols[i] != c {
				return nil, fmt.Errorf("%w: header: column %d is not the configured column %s", ErrDecode, i+1, c)
			}
		}
	}
	return cols, nil
}

func (f csvFormat) row(line []byte, columns []string) (any, string, error) {
	s, err := text(line, f.enc)
	if err != nil {
		return nil, "", err
	}
	fields, err := splitCSVLine(s, f.sep)
	if err != nil {
		return nil, s, err
	}
	if len(fields) != len(columns) {
		return nil, s, fmt.Errorf("%w: %d fields, the header has %d", ErrDecode, len(fields), len(columns))
	}
	row := make(map[string]string, len(columns))
	for i, c := range columns {
		row[c] = strings.TrimSpace(fields[i])
	}
	return row, s, nil
}

// jsonFormat is JSON lines: one object per line, UTF-8.
type jsonFormat struct{}

func (jsonFormat) hasHeader() bool                 { return false }
func (jsonFormat) header([]byte) ([]string, error) { return nil, nil }

func (jsonFormat) row(line []byte, _ []string) (any, string, error) {
	s, err := text(line, nil)
	if err != nil {
		return nil, "", err
	}
	obj, err := decodeObject([]byte(s))
	return obj, s, err
}

// decodeObject decodes one JSON object; its error gives the offset, not the text.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: JSON syntax error at byte %d", ErrDecode, se.Offset)
		}
		return nil, fmt.Errorf("%w: not a JSON object", ErrDecode)
	}
	if obj == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrDecode)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the object", ErrDecode)
	}
	return obj, nil
}
