package cassiopee

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"passerelle/connectors"
)

// ImportOutcome says what became of one exported file.
type ImportOutcome string

// The outcomes of an imported file.
const (
	// ImportAccepted: the decision was accepted (some prévenus may be stale or
	// duplicates: see the receipt).
	ImportAccepted ImportOutcome = "accepted"
	// ImportDuplicate: this transmission had already been received (the same receipt).
	ImportDuplicate ImportOutcome = "duplicate"
	// ImportStale: every prévenu's judgment was older than the one already received.
	ImportStale ImportOutcome = "stale"
	// ImportRejected: the file is not a valid decision (Reasons say where and why).
	ImportRejected ImportOutcome = "rejected"
	// ImportFailed: the hub could not record it (nothing was accepted; import again).
	ImportFailed ImportOutcome = "failed"
)

// ImportedFile is the outcome of one file.
type ImportedFile struct {
	// Path is the file, relative to the imported folder.
	Path string
	// Outcome is what became of it.
	Outcome ImportOutcome
	// ReceiptID is the receipt, for accepted, duplicate and stale files.
	ReceiptID string
	// Messages is the number of judgments (prévenus) of the decision.
	Messages int
	// Reasons are the problems of a rejected file in their redacted form (pointer and
	// rule, no value), or the error of a failed one.
	Reasons []string
}

// Importer takes a folder of exported decisions (files *.json, one decision each, as a
// clerk's workstation would send them) through the same validation, mapping and
// receipts as the intake, with no TLS: the court of each file is its
// juridiction.code, and its receipts are that court's. It is for backfill, run by an
// operator; refusals are audited like the intake's.
type Importer struct {
	// Host accepts the decisions (the hub's push host over the store).
	Host connectors.Host
	// Workers is how many files are pushed at once. Default 4.
	Workers int
	// Progress, when set, is called after each file with the count done and the total.
	Progress func(done, total int)
	// Now is the reception time. Default time.Now.
	Now func() time.Time
}

// Import imports every *.json file under dir (sub-folders included), in name order,
// and returns one outcome per file in that order. Its error is for the folder itself
// (unreadable, empty) or a cancelled ctx; a file's own failure is its outcome.
func (im *Importer) Import(ctx context.Context, dir string) ([]ImportedFile, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".json") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cassiopee: import %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoFiles, dir)
	}
	sort.Strings(paths)
	workers := im.Workers
	if workers <= 0 {
		workers = 4
	}
	clock := im.Now
	if clock == nil {
		clock = time.Now
	}
	out := make([]ImportedFile, len(paths))
	next := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range min(workers, len(paths)) {
		wg.Go(func() {
			for i := range next {
				rel, _ := filepath.Rel(dir, paths[i])
				out[i] = im.file(ctx, paths[i], clock())
				out[i].Path = rel
				mu.Lock()
				done++
				if im.Progress != nil {
					im.Progress(done, len(paths))
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range paths {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("cassiopee: import %s: %w", dir, err)
	}
	return out, nil
}

// file imports one file.
func (im *Importer) file(ctx context.Context, path string, at time.Time) ImportedFile {
	info, err := os.Stat(path)
	if err != nil {
		return ImportedFile{Outcome: ImportFailed, Reasons: []string{err.Error()}}
	}
	if info.Size() > MaxBodyBytes {
		return ImportedFile{Outcome: ImportRejected, Reasons: []string{"(body): " + string(RuleJSONTooLarge)}}
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return ImportedFile{Outcome: ImportFailed, Reasons: []string{err.Error()}}
	}
	d, problems, err := Decode(body)
	if len(problems) > 0 {
		f := ImportedFile{Outcome: ImportRejected}
		for _, p := range problems {
			f.Reasons = append(f.Reasons, p.Redacted())
		}
		if err := im.Host.Audit(ctx, connectors.AuditEntry{Action: "refuse", Outcome: "refused", Reference: "import " + redactedRules(problems)}); err != nil {
			f.Reasons = append(f.Reasons, "refusal not audited: "+err.Error())
		}
		return f
	}
	if err != nil {
		return ImportedFile{Outcome: ImportFailed, Reasons: []string{err.Error()}}
	}
	p := PushOf(d.Juridiction.Code, body, d, at)
	p.Reference = "import " + p.Reference
	pushed, err := im.Host.Accept(ctx, p)
	if err != nil && pushed.ReceiptID == "" {
		return ImportedFile{Outcome: ImportFailed, Reasons: []string{err.Error()}}
	}
	f := ImportedFile{Outcome: ImportAccepted, ReceiptID: pushed.ReceiptID, Messages: len(d.Prevenus)}
	stale := len(pushed.Receipt.Messages) > 0
	for _, m := range pushed.Receipt.Messages {
		stale = stale && m.State == connectors.StateStale
		if m.State == connectors.StateQuarantined {
			f.Reasons = append(f.Reasons, fmt.Sprintf("prévenu %d quarantined: %s", m.Index, m.Reason))
		}
	}
	switch {
	case pushed.Replay:
		f.Outcome = ImportDuplicate
	case stale:
		f.Outcome = ImportStale
	}
	return f
}
