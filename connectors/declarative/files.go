package declarative

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/logging"
)

// The folders made inside FilesConfig.Dir.
const (
	// DoneDir receives the files whose records are committed, each with its report.
	DoneDir = "done"
	// RejectedDir receives the files refused whole, and the rejected lines of the
	// others with one reason per line.
	RejectedDir = "rejected"
)

// Content types of the facts' raw input.
const (
	// ContentTypeCSV is a CSV fact's raw input: the header line then the record's
	// line, in UTF-8; its parameters file and line say where it was read.
	ContentTypeCSV = "text/csv"
	// ContentTypeJSONLines is a JSON-lines fact's raw input: the line.
	ContentTypeJSONLines = "application/x-ndjson"
)

// position is where the files source stands: files are numbered in the order they
// are read (ordinal n, from 1); every file before n is finished. File is file n's name
// once it is chosen, Offset and Line how far it is read (bytes and lines, the header
// included). Pending are the finished files not yet moved when this position was
// written: they move to done/ when a Read is given this position, since the pipeline
// gives a Read only a position it has committed with the facts before it.
type position struct {
	N       int64         `json:"n"`
	File    string        `json:"file,omitempty"`
	Offset  int64         `json:"offset,omitempty"`
	Line    int64         `json:"line,omitempty"`
	Pending []pendingFile `json:"pending,omitempty"`
}

// pendingFile is a finished file waiting to move.
type pendingFile struct {
	N    int64  `json:"n"`
	Name string `json:"name"`
}

func parsePosition(s string) (position, error) {
	if s == "" {
		return position{N: 1}, nil
	}
	var p position
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.N < 1 || p.Offset < 0 || p.Line < 0 || (p.File == "" && p.Offset > 0) {
		return position{}, fmt.Errorf("%w: not a files position", ErrPosition)
	}
	return p, nil
}

func (p position) String() string {
	b, _ := json.Marshal(p) //nolint:errchkjson // a struct of strings and integers always marshals.
	return string(b)
}

// filesSource reads the files dropped in one folder. Read is never called
// concurrently (the pipeline's contract); Decode may be, and shares nothing mutable.
type filesSource struct {
	cfg    *FilesConfig
	m      *mapper
	format lineFormat
	batch  int
	log    *zap.Logger

	mu       sync.Mutex
	maxMoved int64 // highest ordinal in done/ or rejected/; -1 until scanned
}

func newFilesSource(cfg *FilesConfig, m *mapper, batch int, log *zap.Logger) *filesSource {
	var format lineFormat = jsonFormat{}
	if cfg.Format == "csv" {
		sep := []rune(cfg.Separator)[0]
		format = csvFormat{sep: sep, enc: encodings[cfg.Encoding], head: *cfg.Header, columns: cfg.Columns}
	}
	return &filesSource{cfg: cfg, m: m, format: format, batch: batch, log: log, maxMoved: -1}
}

// Read returns the records after position, moving the files that position says are
// committed first.
func (s *filesSource) Read(ctx context.Context, at string) (connectors.Batch, error) {
	pos, err := parsePosition(at)
	if err != nil {
		return connectors.Batch{}, connectors.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return connectors.Batch{}, err
	}
	for _, p := range pos.Pending {
		if err := s.finish(ctx, p); err != nil {
			return connectors.Batch{}, connectors.Transient(err, 0)
		}
	}
	next := pos
	next.Pending = nil
	var facts []connectors.Fact
	var finished []pendingFile
	for len(facts) < s.batch {
		if err := ctx.Err(); err != nil {
			return connectors.Batch{}, err
		}
		if next.File == "" {
			name, err := s.choose(next.N, finished)
			if err != nil {
				return connectors.Batch{}, connectors.Transient(err, 0)
			}
			if name == "" {
				break
			}
			next.File, next.Offset, next.Line = name, 0, 0
		}
		got, offset, line, eof, err := s.readFile(ctx, next, s.batch-len(facts))
		if err != nil {
			return connectors.Batch{}, err
		}
		facts = append(facts, got...)
		next.Offset, next.Line = offset, line
		if eof {
			finished = append(finished, pendingFile{N: next.N, Name: next.File})
			next.N++
			next.File, next.Offset, next.Line = "", 0, 0
		}
	}
	next.Pending = finished
	out := next.String()
	unchanged := next.N == pos.N && next.File == pos.File && next.Offset == pos.Offset && next.Line == pos.Line
	if len(facts) == 0 && len(finished) == 0 && len(pos.Pending) == 0 && unchanged {
		out = at // nothing new: the same position, as the contract wants
	}
	return connectors.Batch{Facts: facts, Next: out}, nil
}

// ordinalName is a file's name in done/ and rejected/: its ordinal first, so that a
// position read again finds it, and names dropped twice never collide.
func ordinalName(n int64, name string) string { return fmt.Sprintf("%08d_%s", n, name) }

// choose returns the name of file n: found in done/ or rejected/ when it was already
// moved (a position read again), else the first file of the folder in name order that
// is not among the finished ones. "" when there is none.
func (s *filesSource) choose(n int64, finished []pendingFile) (string, error) {
	moved, err := s.highestMoved()
	if err != nil {
		return "", err
	}
	if n <= moved {
		for _, dir := range []string{DoneDir, RejectedDir} {
			if name, ok, err := s.findMoved(dir, n); err != nil || ok {
				return name, err
			}
		}
	}
	names, err := s.inbox()
	if err != nil {
		return "", err
	}
	for _, name := range names {
		taken := false
		for _, f := range finished {
			taken = taken || f.Name == name
		}
		if !taken {
			return name, nil
		}
	}
	return "", nil
}

// inbox lists the folder's files matching the pattern, in name order.
func (s *filesSource) inbox() ([]string, error) {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: list the folder: %w", ErrFiles, err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if ok, _ := filepath.Match(s.cfg.Pattern, e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// highestMoved scans done/ and rejected/ once for the highest ordinal moved.
func (s *filesSource) highestMoved() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxMoved >= 0 {
		return s.maxMoved, nil
	}
	highest := int64(0)
	for _, dir := range []string{DoneDir, RejectedDir} {
		entries, err := os.ReadDir(filepath.Join(s.cfg.Dir, dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%w: list %s: %w", ErrFiles, dir, err)
		}
		for _, e := range entries {
			if n, _, ok := splitOrdinal(e.Name()); ok && n > highest {
				highest = n
			}
		}
	}
	s.maxMoved = highest
	return highest, nil
}

// splitOrdinal reads <ordinal>_<name>.
func splitOrdinal(s string) (int64, string, bool) {
	num, name, ok := strings.Cut(s, "_")
	if !ok || len(num) != 8 {
		return 0, "", false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, name, err == nil
}

// findMoved looks for file n in dir (done or rejected): the data file, not a report.
func (s *filesSource) findMoved(dir string, n int64) (string, bool, error) {
	entries, err := os.ReadDir(filepath.Join(s.cfg.Dir, dir))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("%w: list %s: %w", ErrFiles, dir, err)
	}
	for _, e := range entries {
		if m, name, ok := splitOrdinal(e.Name()); ok && m == n {
			if match, _ := filepath.Match(s.cfg.Pattern, name); match {
				return name, true, nil
			}
		}
	}
	return "", false, nil
}

// locate returns the path of file n named name: in the folder, or already moved.
func (s *filesSource) locate(n int64, name string) (string, error) {
	for _, p := range []string{
		filepath.Join(s.cfg.Dir, name),
		filepath.Join(s.cfg.Dir, DoneDir, ordinalName(n, name)),
		filepath.Join(s.cfg.Dir, RejectedDir, ordinalName(n, name)),
	} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: file %d (%s) is neither in the folder nor in done/ or rejected/", ErrFiles, n, name)
}

// scanned is one line of a file as read: where it is, its bytes as they are in the
// file, and the fact made of it.
type scanned struct {
	line     int64
	original []byte
	fact     connectors.Fact
}

// scan reads file n from pos (offset and line) and calls each for every non-blank
// line until each returns false; it returns the offset and line after the last line
// handed over and whether the file is finished. A refused header finishes the file at
// once with one failed fact.
func (s *filesSource) scan(ctx context.Context, n int64, name string, offset, line int64, each func(scanned) bool) (int64, int64, bool, []byte, error) {
	path, err := s.locate(n, name)
	if err != nil {
		return 0, 0, false, nil, connectors.Transient(err, 0)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false, nil, connectors.Transient(fmt.Errorf("%w: open file %d: %w", ErrFiles, n, err), 0)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, false, nil, connectors.Transient(fmt.Errorf("%w: stat file %d: %w", ErrFiles, n, err), 0)
	}
	at := st.ModTime().UTC()
	r := bufio.NewReaderSize(f, 64<<10)
	columns := s.cfg.Columns // when the files have no header
	var headerLine []byte
	if s.format.hasHeader() {
		raw, size, err := readLine(r, s.cfg.MaxLine)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errLineTooLong) {
			return 0, 0, false, nil, connectors.Transient(fmt.Errorf("%w: read file %d: %w", ErrFiles, n, err), 0)
		}
		if size == 0 {
			return int64(size), 0, true, nil, nil // an empty file: nothing to read
		}
		headerLine = append([]byte(nil), raw...)
		cols, herr := s.format.header(raw)
		if errors.Is(err, errLineTooLong) {
			herr = fmt.Errorf("%w: header: longer than %d bytes", ErrDecode, s.cfg.MaxLine)
		}
		if herr != nil {
			if offset == 0 {
				each(scanned{line: 1, original: headerLine, fact: connectors.Fact{
					Raw: clip(headerLine), ContentType: contentType(ContentTypeCSV, name, 1),
					Err: fmt.Errorf("%w: %w", ErrFileRefused, herr), Stage: "decode",
				}})
			}
			return st.Size(), line + 1, true, headerLine, nil
		}
		columns = cols
		if offset == 0 {
			offset, line = int64(size), 1
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, 0, false, nil, connectors.Transient(fmt.Errorf("%w: seek file %d: %w", ErrFiles, n, err), 0)
	}
	r.Reset(f)
	for {
		if err := ctx.Err(); err != nil {
			return 0, 0, false, nil, err
		}
		raw, size, err := readLine(r, s.cfg.MaxLine)
		if size == 0 && errors.Is(err, io.EOF) {
			return offset, line, true, headerLine, nil
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errLineTooLong) {
			return 0, 0, false, nil, connectors.Transient(fmt.Errorf("%w: read file %d: %w", ErrFiles, n, err), 0)
		}
		nextOffset, nextLine := offset+int64(size), line+1
		if len(strings.TrimSpace(string(raw))) == 0 {
			offset, line = nextOffset, nextLine
			continue
		}
		sc := scanned{line: nextLine, original: append([]byte(nil), raw...)}
		if errors.Is(err, errLineTooLong) {
			sc.fact = connectors.Fact{Raw: clip(raw), ContentType: contentType(s.contentType(), name, nextLine),
				Err: fmt.Errorf("%w: line longer than %d bytes", ErrDecode, s.cfg.MaxLine), Stage: "decode"}
		} else {
			sc.fact = s.makeFact(raw, headerLine, columns, name, nextLine, at)
		}
		if !each(sc) {
			return offset, line, false, headerLine, nil
		}
		offset, line = nextOffset, nextLine
	}
}

func (s *filesSource) contentType() string {
	if s.cfg.Format == "csv" {
		return ContentTypeCSV
	}
	return ContentTypeJSONLines
}

// contentType is a fact's content type with where it was read.
func contentType(base, file string, line int64) string {
	params := map[string]string{"file": file, "line": strconv.FormatInt(line, 10)}
	if base == ContentTypeCSV {
		params["charset"] = "utf-8"
		params["header"] = "present"
	}
	return mime.FormatMediaType(base, params)
}

// clip bounds the raw input kept for a line that is refused before it is decoded.
func clip(b []byte) []byte { return append([]byte(nil), b[:min(len(b), 4096)]...) }

// makeFact decodes and maps one line.
func (s *filesSource) makeFact(raw, headerLine []byte, columns []string, file string, line int64, at time.Time) connectors.Fact {
	row, utf, err := s.format.row(raw, columns)
	ct := contentType(s.contentType(), file, line)
	fact := connectors.Fact{ContentType: ct}
	switch {
	case s.cfg.Format == "csv" && utf != "":
		head, _ := text(headerLine, encodings[s.cfg.Encoding])
		if headerLine == nil {
			head = joinColumns(columns, s.cfg.Separator) // files without a header: the configured columns
		}
		fact.Raw = []byte(head + "\n" + utf)
	case utf != "":
		fact.Raw = []byte(utf)
	default:
		fact.Raw = clip(raw)
		fact.ContentType = "application/octet-stream"
	}
	if err != nil {
		fact.Err, fact.Stage = err, "decode"
		return fact
	}
	id, msg, err := s.m.mapRecord(record{row: row, file: file, line: line}, at)
	fact.Fact = id
	if err != nil {
		fact.Err, fact.Stage = err, "map"
		return fact
	}
	fact.Messages = []*canonical.Message{msg}
	return fact
}

// readFile reads at most room records of the file the position names.
func (s *filesSource) readFile(ctx context.Context, pos position, room int) ([]connectors.Fact, int64, int64, bool, error) {
	var facts []connectors.Fact
	offset, line, eof, _, err := s.scan(ctx, pos.N, pos.File, pos.Offset, pos.Line, func(sc scanned) bool {
		if len(facts) == room {
			return false
		}
		facts = append(facts, sc.fact)
		return true
	})
	if err != nil {
		return nil, 0, 0, false, err
	}
	return facts, offset, line, eof, nil
}

// Report is what a finished file's report says (done/<n>_<name>.report.json, or beside
// the file in rejected/ when it was refused whole). It names lines and rules, never a
// value.
type Report struct {
	// File is the name the file was dropped with; Ordinal its number in reading order.
	File    string `json:"file"`
	Ordinal int64  `json:"ordinal"`
	// Outcome is done (its records were read; the rejected ones are listed) or
	// rejected (the file was refused whole).
	Outcome string `json:"outcome"`
	// Records counts the non-blank lines after the header; Accepted those that became
	// canonical messages; Rejected the others.
	Records  int `json:"records"`
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	// Reasons gives, for each rejected line, its line number and why.
	Reasons []LineReason `json:"reasons"`
	// FinishedAt is when the file was moved.
	FinishedAt time.Time `json:"finishedAt"`
}

// LineReason is why one line was rejected.
type LineReason struct {
	// Line is the line number in the file (the header is line 1).
	Line int64 `json:"line"`
	// Stage is decode or map.
	Stage string `json:"stage"`
	// Reason is the rule broken, without the value.
	Reason string `json:"reason"`
}

// finish moves a finished file whose records are committed: its rejected lines to
// rejected/<n>_<name>.lines with rejected/<n>_<name>.reasons (one reason per line, in
// the same order), its report beside it, then the file itself to done/ (or rejected/
// when refused whole). Each step writes a new file then renames it, so that a crash
// at any point leaves what finish does again.
func (s *filesSource) finish(ctx context.Context, p pendingFile) error {
	src := filepath.Join(s.cfg.Dir, p.Name)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil // already moved
	}
	rep := Report{File: p.Name, Ordinal: p.N, Outcome: "done", Reasons: []LineReason{}}
	var lines, reasons strings.Builder
	refusedWhole := false
	_, _, _, header, err := s.scan(ctx, p.N, p.Name, 0, 0, func(sc scanned) bool {
		if errors.Is(sc.fact.Err, ErrFileRefused) {
			refusedWhole = true
			rep.Outcome = "rejected"
			rep.Reasons = append(rep.Reasons, LineReason{Line: sc.line, Stage: sc.fact.Stage, Reason: sc.fact.Err.Error()})
			return true
		}
		rep.Records++
		if sc.fact.Err == nil {
			rep.Accepted++
			return true
		}
		rep.Rejected++
		reason := LineReason{Line: sc.line, Stage: sc.fact.Stage, Reason: sc.fact.Err.Error()}
		rep.Reasons = append(rep.Reasons, reason)
		lines.Write(sc.original)
		if !strings.HasSuffix(string(sc.original), "\n") {
			lines.WriteByte('\n')
		}
		fmt.Fprintf(&reasons, "line %d: %s: %s\n", reason.Line, reason.Stage, reason.Reason)
		return true
	})
	if err != nil {
		return fmt.Errorf("%w: report on file %d: %w", ErrFiles, p.N, err)
	}
	rep.FinishedAt = time.Now().UTC()
	base := ordinalName(p.N, p.Name)
	dest := DoneDir
	if refusedWhole {
		dest = RejectedDir
	}
	for _, dir := range []string{DoneDir, RejectedDir} {
		if err := os.MkdirAll(filepath.Join(s.cfg.Dir, dir), 0o750); err != nil {
			return fmt.Errorf("%w: make %s: %w", ErrFiles, dir, err)
		}
	}
	if rep.Rejected > 0 {
		body := lines.String()
		if len(header) > 0 {
			body = string(header) + body // the rejected lines keep their header and encoding
			if !strings.HasSuffix(string(header), "\n") {
				body = string(header) + "\n" + lines.String()
			}
		}
		if err := writeFile(filepath.Join(s.cfg.Dir, RejectedDir, base+".lines"), []byte(body)); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(s.cfg.Dir, RejectedDir, base+".reasons"), []byte(reasons.String())); err != nil {
			return err
		}
	}
	report, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: report on file %d: %w", ErrFiles, p.N, err)
	}
	if err := writeFile(filepath.Join(s.cfg.Dir, dest, base+".report.json"), append(report, '\n')); err != nil {
		return err
	}
	if err := os.Rename(src, filepath.Join(s.cfg.Dir, dest, base)); err != nil {
		return fmt.Errorf("%w: move file %d to %s: %w", ErrFiles, p.N, dest, err)
	}
	s.mu.Lock()
	s.maxMoved = max(s.maxMoved, p.N)
	s.mu.Unlock()
	s.log.Info("file finished", zap.Int64("file_ordinal", p.N), zap.String("outcome", rep.Outcome),
		logging.Count(rep.Accepted), zap.Int("rejected", rep.Rejected))
	return nil
}

// writeFile writes a file whole: a temporary name, then a rename.
func writeFile(path string, body []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrFiles, filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrFiles, filepath.Base(path), err)
	}
	return nil
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line with its line end and the bytes it took; a line
// longer than maxLen is consumed whole and returned cut, with errLineTooLong. io.EOF
// comes with the last line when it has no line end (a file is dropped whole: its last
// line is complete), or alone at the end.
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
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil || (errors.Is(err, io.EOF) && n > 0):
			if n > maxLen+1 {
				return line, n, errLineTooLong
			}
			return line, n, nil
		default:
			return line, n, err
		}
	}
}

// Decode re-reads a quarantined fact's raw input (replay): CSV facts carry their
// header line, and their content type the file and line they were read from.
func (s *filesSource) Decode(_ context.Context, raw []byte, ct string) ([]*canonical.Message, error) {
	_, params, _ := mime.ParseMediaType(ct)
	line, _ := strconv.ParseInt(params["line"], 10, 64)
	var row any
	var err error
	if s.cfg.Format == "csv" {
		head, body, ok := strings.Cut(string(raw), "\n")
		if !ok {
			return nil, fmt.Errorf("%w: a CSV fact holds its header line and its record", ErrDecode)
		}
		utf := csvFormat{sep: []rune(s.cfg.Separator)[0], head: true, columns: s.cfg.Columns}
		cols, herr := utf.header([]byte(head))
		if herr != nil {
			return nil, herr
		}
		row, _, err = utf.row([]byte(body), cols)
	} else {
		row, _, err = jsonFormat{}.row(raw, nil)
	}
	if err != nil {
		return nil, err
	}
	_, msg, err := s.m.mapRecord(record{row: row, file: params["file"], line: line}, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	return []*canonical.Message{msg}, nil
}

// joinColumns writes column names as a CSV header line, quoting those that need it.
func joinColumns(columns []string, sep string) string {
	out := make([]string, len(columns))
	for i, c := range columns {
		if strings.Contains(c, sep) || strings.Contains(c, `"`) {
			c = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
		}
		out[i] = c
	}
	return strings.Join(out, sep)
}
