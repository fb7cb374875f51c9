package declarative

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/schemas"
)

// Defaults and bounds of Config.
const (
	// DefaultBatchSize is the number of facts one Read returns at most.
	DefaultBatchSize = 500
	// DefaultMaxLine bounds one line of a file, in bytes.
	DefaultMaxLine = 64 << 10
	// DefaultTimeout bounds one call of the polled endpoint.
	DefaultTimeout = 30 * time.Second
	// MaxResponseBytes bounds one answer of the polled endpoint.
	MaxResponseBytes = 16 << 20
)

// Config is the declarative source's settings (connectors.<name> with kind
// declarative): where the records come from (Files or HTTP, exactly one), what
// canonical type they become, and how (Fact and Mapping, CEL expressions of a record).
type Config struct {
	// Type is the canonical type of the messages, by short name (measure) or
	// CloudEvents type (fr.justice.measure.v1). Required.
	Type string `yaml:"type"`
	// System is the source system of the facts (the messages' factsystem), upper case,
	// e.g. APPI. Required.
	System string `yaml:"system"`
	// Files reads the files dropped in a folder.
	Files *FilesConfig `yaml:"files"`
	// HTTP polls a JSON endpoint.
	HTTP *HTTPConfig `yaml:"http"`
	// Fact is each record's identity at its source, from which its idempotency key is
	// derived: the same record must always give the same reference and version.
	// Required.
	Fact FactConfig `yaml:"fact"`
	// Time, when set, is a CEL expression giving the message's time as an RFC 3339
	// string. Default: the file's modification time, or the time of the poll.
	Time string `yaml:"time"`
	// Mapping maps each field of the canonical type, written as a dotted path
	// (person.lastName), to a CEL expression of the record. A result that is null or
	// the empty string leaves the field out. Every required field of the type's
	// schema must be mapped (objects of optional fields only are made empty). Required.
	Mapping map[string]string `yaml:"mapping"`
	// BatchSize is the number of records one Read returns at most. Default 500.
	BatchSize int `yaml:"batchSize"`
}

// FactConfig gives a record's identity as CEL expressions.
type FactConfig struct {
	// Ref is the fact's reference in its system, a string (e.g. "mesure/" +
	// row.numero_mesure). Required.
	Ref string `yaml:"ref"`
	// Version is its version or sequence there, a non-negative integer
	// (int(row.seq)). Required.
	Version string `yaml:"version"`
}

// FilesConfig reads the files dropped in a folder, in name order, one record per line.
// A file is read once it is in the folder: drop it whole (write it elsewhere, then
// move it in). Once its records are committed it is moved to done/ (or, when its
// header is refused, to rejected/) with a report beside it; its rejected lines go to
// rejected/ with one reason per line. Nothing is deleted.
type FilesConfig struct {
	// Dir is the folder files are dropped in; done/ and rejected/ are made inside it.
	// Required. A folder that does not exist yet is waited for (the Read fails,
	// transiently) rather than refused at start.
	Dir string `yaml:"dir"`
	// Pattern selects the files of Dir to read (shell pattern). Default *.csv for csv,
	// *.jsonl for jsonl.
	Pattern string `yaml:"pattern"`
	// Format is csv or jsonl (one JSON object per line). Default csv.
	Format string `yaml:"format"`
	// Separator is the CSV field separator, one character. Default ",".
	Separator string `yaml:"separator"`
	// Encoding is the files' character set: utf-8, latin1 (iso-8859-1), iso-8859-15 or
	// windows-1252. Default utf-8. JSON lines are always UTF-8.
	Encoding string `yaml:"encoding"`
	// Header says whether a CSV file's first line names its columns. Default true.
	Header *bool `yaml:"header"`
	// Columns names the CSV columns when there is no header; with a header, the header
	// must name these columns in this order (else the file is rejected whole).
	Columns []string `yaml:"columns"`
	// MaxLine bounds one line, in bytes; a longer one is rejected. Default 64 KiB.
	MaxLine int `yaml:"maxLine"`
}

// HTTPConfig polls a JSON endpoint: GET URL?<cursor>=<position> answers an object
// holding the records (Items) and the position after them (Next).
type HTTPConfig struct {
	// URL is the endpoint, http or https. Required.
	URL string `yaml:"url"`
	// Cursor is the query parameter carrying the position (absent on the first call).
	// Default cursor.
	Cursor string `yaml:"cursor"`
	// Items is the field of the answer holding the array of records. Default items.
	Items string `yaml:"items"`
	// Next is the field of the answer holding the position after them; absent, empty or
	// unchanged means nothing new. Default next.
	Next string `yaml:"next"`
	// Timeout bounds one call. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Token, when set, is sent as a Bearer token.
	Token config.Secret `yaml:"token"`
}

// Spec registers the declarative source.
var Spec = connectors.Spec{
	Kind:    "declarative",
	Summary: "source: files dropped in a folder (CSV, JSON lines) or a polled JSON endpoint, mapped to a canonical type with CEL expressions",
	New:     newInstance,
}

var systemPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_-]*$`)

// newInstance validates the settings, compiles and checks the mapping against the
// target schema, and builds the source; it reads no file and calls no endpoint.
func newInstance(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
	var c Config
	ps := config.DecodeSettings(settings, &c, path)
	if len(ps) > 0 {
		return nil, ps
	}
	if c.Type == "" {
		ps.Add(path+".type", "required: a canonical type (measure, judgment, ...)")
	}
	if !systemPattern.MatchString(c.System) {
		ps.Add(path+".system", "required: the source system's name in upper case (APPI)")
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = DefaultBatchSize
	case c.BatchSize < 0 || c.BatchSize > 10_000:
		ps.Add(path+".batchSize", "must be between 1 and 10000")
	}
	var rowType *cel.Type
	switch {
	case (c.Files == nil) == (c.HTTP == nil):
		ps.Add(path, "exactly one of files and http is required")
	case c.Files != nil:
		rowType = c.Files.check(path+".files", &ps)
	default:
		rowType = cel.DynType
		c.HTTP.check(path+".http", env.Getenv, &ps)
	}
	if c.Type == "" || rowType == nil {
		return nil, ps
	}
	reg, err := schemas.Load()
	if err != nil {
		ps.Add(path+".type", "canonical schemas: %v", err)
		return nil, ps
	}
	name := env.Name
	if name == "" {
		name = "declarative"
	}
	m, more := newMapper(&c, reg, rowType, "/connectors/"+name, path)
	ps = append(ps, more...)
	if len(ps) > 0 {
		return nil, ps
	}
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if c.Files != nil {
		s := newFilesSource(c.Files, m, c.BatchSize, log)
		return &connectors.Instance{Source: s, Decoder: s}, nil
	}
	s := newHTTPSource(c.HTTP, env, m, c.BatchSize, log)
	return &connectors.Instance{Source: s, Decoder: s, Close: s.close}, nil
}

// check fills the defaults of f and reports its problems; it returns the CEL type of
// a record's row (nil on a problem that leaves it unknown).
func (f *FilesConfig) check(path string, ps *config.Problems) *cel.Type {
	if f.Dir == "" {
		ps.Add(path+".dir", "required: the folder files are dropped in")
	} else if st, err := os.Stat(f.Dir); err == nil && !st.IsDir() {
		ps.Add(path+".dir", "must be a folder") // a folder not there yet is waited for, like a system that is down
	}
	if f.Format == "" {
		f.Format = "csv"
	}
	if f.MaxLine == 0 {
		f.MaxLine = DefaultMaxLine
	} else if f.MaxLine < 0 {
		ps.Add(path+".maxLine", "must be positive")
	}
	if f.Header == nil {
		t := true
		f.Header = &t
	}
	if f.Encoding == "" {
		f.Encoding = "utf-8"
	}
	if _, ok := encodings[f.Encoding]; !ok {
		ps.Add(path+".encoding", "must be one of %s", encodingNames)
	}
	switch f.Format {
	case "csv":
		if f.Pattern == "" {
			f.Pattern = "*.csv"
		}
		if f.Separator == "" {
			f.Separator = ","
		}
		if utf8.RuneCountInString(f.Separator) != 1 || f.Separator == `"` || f.Separator == "\n" || f.Separator == "\r" {
			ps.Add(path+".separator", "must be one character, not a quote or a line end")
		}
		if !*f.Header && len(f.Columns) == 0 {
			ps.Add(path+".columns", "required when the files have no header")
		}
	case "jsonl":
		if f.Pattern == "" {
			f.Pattern = "*.jsonl"
		}
		if len(f.Columns) > 0 {
			ps.Add(path+".columns", "only for csv")
		}
	default:
		ps.Add(path+".format", "must be csv or jsonl")
		return nil
	}
	if _, err := filepath.Match(f.Pattern, "x"); err != nil {
		ps.Add(path+".pattern", "not a valid pattern")
	}
	if f.Format == "csv" {
		return cel.MapType(cel.StringType, cel.StringType)
	}
	return cel.DynType
}

// check fills the defaults of h and reports its problems.
func (h *HTTPConfig) check(path string, getenv func(string) string, ps *config.Problems) {
	if h.URL == "" {
		ps.Add(path+".url", "required")
	} else if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add(path+".url", "must be an absolute http or https URL")
	}
	if h.Cursor == "" {
		h.Cursor = "cursor"
	}
	if h.Items == "" {
		h.Items = "items"
	}
	if h.Next == "" {
		h.Next = "next"
	}
	if h.Timeout < 0 {
		ps.Add(path+".timeout", "must not be negative")
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultTimeout
	}
	if !h.Token.IsZero() {
		h.Token.Check(path+".token", getenv, ps)
	}
}
