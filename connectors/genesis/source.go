package genesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
)

// SourceOptions configure a Source.
type SourceOptions struct {
	// PageSize is the nombreMax of each ListerMouvements call. Default DefaultPageSize;
	// values outside 1..MaxPageSize are brought back into it.
	PageSize int
	// Concurrency is the number of ConsulterFichePenale calls a Read makes at once:
	// the fiches of a page are read ahead, in parallel, then the movements are
	// processed in the feed's order. Default DefaultConcurrency; values outside
	// 1..MaxConcurrency are brought back into it.
	Concurrency int
	// Logger receives technical events only (sequences, counts, error classes). Default:
	// no logs.
	Logger *zap.Logger
	// Now is the clock that stamps penal records with the time they were read. Default
	// time.Now.
	Now func() time.Time
}

// Source polls GENESIS's movement feed (connectors.Source) and re-reads quarantined
// inputs on replay (connectors.Decoder). Read is not safe for concurrent use on one
// position stream, which the pipeline never does (one process runs a source at a
// time); Decode is safe for concurrent use.
type Source struct {
	client   *Client
	pageSize int
	workers  int
	log      *zap.Logger
	now      func() time.Time
}

// NewSource returns a source reading through client. It does not contact GENESIS.
func NewSource(client *Client, opts SourceOptions) *Source {
	switch {
	case opts.PageSize <= 0:
		opts.PageSize = DefaultPageSize
	case opts.PageSize > MaxPageSize:
		opts.PageSize = MaxPageSize
	}
	opts.Concurrency = min(max(opts.Concurrency, 0), MaxConcurrency)
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Source{client: client, pageSize: opts.PageSize, workers: opts.Concurrency, log: opts.Logger, now: opts.Now}
}

// Close releases the client's idle connections.
func (s *Source) Close() error { return s.client.Close() }

// ParsePosition reads a position: the decimal sequence of the last movement fully
// processed, "" for the start of the feed (0: GENESIS's sequences start at 1).
func ParsePosition(position string) (int64, error) {
	if position == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(position, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(position, "+") {
		return 0, connectors.Permanent(fmt.Errorf("%w: %q is not a sequence", ErrInvalidPosition, position))
	}
	return n, nil
}

// FormatPosition writes the position after the movement of sequence seq.
func FormatPosition(seq int64) string { return strconv.FormatInt(seq, 10) }

// Read returns the facts of the movements after position (at most one page), in the
// feed's order, and Next, the sequence of the last movement fully processed.
//
// For each movement: the fiche it announces is read (ConsulterFichePenale: its current
// state); the penal record of that state is one fact (fiche/<numeroEcrou>/<code>, the
// fiche's version), given once per Read for each fiche; the movement itself is one
// fact, its custody event joined with the fiche's person (mouvement/<sequence>).
//
// Why one read per fiche per Read: GENESIS records a change of a fiche and the
// movement announcing it together, so a fiche read after the page was listed is at
// least as new as every movement of the page announces. Reading it again for the
// page's next movement of the same fiche would cost GENESIS a call for the same state
// (or a newer one, announced by a later page anyway). Across Reads nothing is cached:
// a later page's movement announces a newer state.
//
// Repeats (the same sequence again after a failover of GENESIS, in the same page or a
// later one) are skipped: a sequence at or below position, or already seen in this
// page, is never processed twice.
//
// Failures, by where they belong:
//   - a movement that breaks the WSDL, or whose fiche GENESIS does not know
//     (FicheInconnue), breaks the WSDL or exceeds MaxResponseBytes, is a Fact with
//     Err (stage "decode", or "map" for FicheInconnue), Raw the movement
//     (ContentTypeMouvement) and Fact the movement's identity: it is quarantined,
//     replayable, and the page goes on;
//   - GENESIS unavailable (503, ServiceIndisponible, timeouts after the client's
//     retries) or refusing every call (a wrong URL, a SOAP fault about the request):
//     when nothing of the page was processed yet, Read returns the error and the
//     position stays; when some movements were, Read returns them, with Next after the
//     last one, and the next Read meets the error from there. A page of up to 1,000
//     fiche reads is not thrown away for its last call: that would cost GENESIS the
//     same calls again exactly when it is overloaded.
//   - ctx ending: Read returns ctx's error and no fact.
func (s *Source) Read(ctx context.Context, position string) (connectors.Batch, error) {
	depuis, err := ParsePosition(position)
	if err != nil {
		return connectors.Batch{}, err
	}
	if err := ctx.Err(); err != nil {
		return connectors.Batch{}, err
	}
	page, dernier, err := s.client.ListerMouvements(ctx, depuis, s.pageSize)
	if err != nil {
		return connectors.Batch{}, fmt.Errorf("genesis: list movements after %d: %w", depuis, err)
	}
	r := pageReader{src: s, fiches: map[ficheKey]*ficheRead{}, readAt: s.now()}
	r.readAhead(ctx, page, depuis)
	batch := connectors.Batch{Next: FormatPosition(depuis)}
	last := depuis
	seen := make(map[int64]bool, len(page))
	repeats := 0
	for i := range page {
		m := &page[i]
		if m.Sequence > 0 && (m.Sequence <= depuis || seen[m.Sequence]) {
			repeats++
			continue
		}
		if err := ctx.Err(); err != nil {
			return connectors.Batch{}, err
		}
		facts, err := r.movement(ctx, m)
		if err != nil {
			if ctx.Err() != nil {
				return connectors.Batch{}, ctx.Err()
			}
			if last == depuis {
				return connectors.Batch{}, fmt.Errorf("genesis: movement %d: %w", m.Sequence, err)
			}
			s.log.Warn("fiche read failed: returning the movements processed so far",
				zap.Int64("sequence", m.Sequence), zap.Int64("next", last), zap.Error(err))
			return batch, nil
		}
		batch.Facts = append(batch.Facts, facts...)
		if m.Sequence > 0 {
			// A broken copy does not hide a good copy of the same sequence later in
			// the page: only a movement read whole counts as seen.
			seen[m.Sequence] = m.Err == nil
			last = max(last, min(m.Sequence, dernier))
			batch.Next = FormatPosition(last)
		}
	}
	// The whole page is processed: dernierSequence also covers a movement so broken
	// that its sequence could not be read.
	last = max(last, dernier)
	batch.Next = FormatPosition(last)
	if repeats > 0 {
		s.log.Debug("repeated movements skipped", zap.Int("count", repeats), zap.Int64("after", depuis))
	}
	return batch, nil
}

// ficheKey identifies a fiche.
type ficheKey struct{ numeroEcrou, codeEtablissement string }

// ficheRead is the outcome of reading one fiche during a Read.
type ficheRead struct {
	fiche   *FichePenale
	err     error // a failure of this fiche alone (quarantined with each movement)
	emitted bool  // its penal record is already among the batch's facts
}

// pageReader processes the movements of one page.
type pageReader struct {
	src    *Source
	fiches map[ficheKey]*ficheRead
	readAt time.Time
}

// movement returns the facts of one movement, or the error that must stop the Read.
func (r *pageReader) movement(ctx context.Context, m *Mouvement) ([]connectors.Fact, error) {
	raw := EncodeMouvement(m)
	var id *canonical.FactID
	if m.Sequence > 0 {
		f := MovementFact(m.Sequence)
		id = &f
	}
	if m.Err != nil {
		return []connectors.Fact{{Raw: raw, ContentType: ContentTypeMouvement, Fact: id,
			Err: m.Err, Stage: "decode"}}, nil
	}
	fr, err := r.fiche(ctx, m)
	if err != nil {
		return nil, err
	}
	if fr.err != nil {
		stage := "decode"
		if errors.Is(fr.err, ErrFicheInconnue) {
			stage = "map"
		}
		return []connectors.Fact{{Raw: raw, ContentType: ContentTypeMouvement, Fact: id,
			Err: movementFailure(m.Sequence, fr.err), Stage: stage}}, nil
	}
	var facts []connectors.Fact
	if !fr.emitted {
		fr.emitted = true
		facts = append(facts, penalRecordFact(fr.fiche, r.readAt))
	}
	fact := connectors.Fact{Raw: raw, ContentType: ContentTypeMouvement, Fact: id}
	if msg, err := CustodyEventMessage(m, fr.fiche); err != nil {
		fact.Err, fact.Stage = err, "map"
	} else {
		fact.Messages = []*canonical.Message{msg}
	}
	return append(facts, fact), nil
}

// readAhead reads the fiches the page's movements announce, each once, on up to
// Concurrency calls at a time: GENESIS may take seconds to answer one call, and one
// call after the other made the source the flow's bottleneck. The first failure that
// is not the fiche's own (an outage) stops the reads still to start; the fiches it
// left unread are read, in order, by fiche when their movement comes, so the page
// stops where it stopped before (see Read).
func (r *pageReader) readAhead(ctx context.Context, page []Mouvement, depuis int64) {
	var keys []ficheKey
	announced := map[ficheKey]bool{}
	for i := range page {
		m := &page[i]
		k := ficheKey{m.NumeroEcrou, m.CodeEtablissement}
		if m.Err != nil || (m.Sequence > 0 && m.Sequence <= depuis) || announced[k] {
			continue
		}
		announced[k] = true
		keys = append(keys, k)
	}
	if len(keys) < 2 || r.src.workers < 2 {
		return
	}
	results := make([]*ficheRead, len(keys))
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.src.workers, len(keys)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				f, err := r.src.client.ConsulterFichePenale(ctx, keys[i].numeroEcrou, keys[i].codeEtablissement)
				switch {
				case err == nil:
					results[i] = &ficheRead{fiche: f}
				case ficheSpecific(err):
					results[i] = &ficheRead{err: err}
				default:
					stop() // an outage: leave the rest to be read, or not, in order
					return
				}
			}
		})
	}
	wg.Wait()
	for i, fr := range results {
		if fr != nil {
			r.fiches[keys[i]] = fr
		}
	}
}

// fiche returns the fiche m announces, reading it when readAhead did not.
func (r *pageReader) fiche(ctx context.Context, m *Mouvement) (*ficheRead, error) {
	k := ficheKey{m.NumeroEcrou, m.CodeEtablissement}
	if fr, ok := r.fiches[k]; ok {
		return fr, nil
	}
	f, err := r.src.client.ConsulterFichePenale(ctx, k.numeroEcrou, k.codeEtablissement)
	switch {
	case err == nil:
		r.fiches[k] = &ficheRead{fiche: f}
	case ficheSpecific(err):
		r.fiches[k] = &ficheRead{err: err}
	default:
		return nil, err
	}
	return r.fiches[k], nil
}

// ficheSpecific reports whether a ConsulterFichePenale failure belongs to that fiche
// alone (its movements are quarantined and the feed goes on) rather than to GENESIS or
// to the way it is called (the Read stops and the pipeline backs off: quarantining
// every movement would quarantine an outage).
func ficheSpecific(err error) bool {
	return errors.Is(err, ErrFicheInconnue) || errors.Is(err, ErrInvalidResponse) || errors.Is(err, ErrResponseTooLarge)
}

// movementError is the quarantine reason of a movement whose fiche could not be read:
// the movement's sequence and a fixed description, no value of the fiche (the Raw
// holds the movement; the cause stays reachable with errors.Is/As).
type movementError struct {
	seq    int64
	reason string
	cause  error
}

// Error says which movement and why, without personal data.
func (e *movementError) Error() string {
	return fmt.Sprintf("genesis: movement %d: %s", e.seq, e.reason)
}

// Unwrap returns the client's error.
func (e *movementError) Unwrap() error { return e.cause }

// movementFailure describes why the fiche of movement seq could not be read.
func movementFailure(seq int64, err error) error {
	var inv *InvalidResponseError
	reason := "the fiche it announces could not be read"
	switch {
	case errors.Is(err, ErrFicheInconnue):
		reason = "GENESIS does not know the fiche it announces (FicheInconnue)"
	case errors.As(err, &inv):
		reason = "the fiche it announces breaks the WSDL: " + inv.Reason
	case errors.Is(err, ErrResponseTooLarge):
		reason = "the fiche it announces is larger than maxResponseBytes"
	}
	return &movementError{seq: seq, reason: reason, cause: err}
}

// penalRecordFact is the fact of a fiche's current state: Raw the response as GENESIS
// sent it.
func penalRecordFact(f *FichePenale, readAt time.Time) connectors.Fact {
	id := FicheFact(f)
	fact := connectors.Fact{Raw: f.Raw, ContentType: ContentTypeFiche, Fact: &id}
	if msg, err := PenalRecordMessage(f, readAt); err != nil {
		fact.Err, fact.Stage = err, "map"
	} else {
		fact.Messages = []*canonical.Message{msg}
	}
	return fact
}

// Decode turns a quarantined raw input back into messages (connectors.Decoder), for
// `passerelle replay`:
//
//   - a ConsulterFichePenale response (the raw of a penal record) is decoded again, as
//     it was received, without calling GENESIS: the same version, mapped by the
//     current code;
//   - a movement (the raw of a custody event, or of a movement whose fiche could not
//     be read) has its fiche read again from GENESIS — its current state — and gives
//     the penal record and the custody event, as Read would have.
//
// Errors are classified: a fiche GENESIS still does not know is permanent
// (ErrFicheInconnue), GENESIS unavailable is transient (errors.Is(err,
// connectors.ErrTransient): replay later rather than quarantine again).
func (s *Source) Decode(ctx context.Context, raw []byte, _ string) ([]*canonical.Message, error) {
	kind, err := kindOfRaw(raw)
	if err != nil {
		return nil, connectors.Permanent(err)
	}
	now := s.now()
	if kind == rawFiche {
		f, err := DecodeFichePenale(raw)
		if err != nil {
			return nil, fmt.Errorf("genesis: replay fiche: %w", err)
		}
		m, err := PenalRecordMessage(f, now)
		if err != nil {
			return nil, connectors.Permanent(err)
		}
		return []*canonical.Message{m}, nil
	}
	mv, err := DecodeMouvement(raw)
	if err != nil {
		return nil, fmt.Errorf("genesis: replay movement: %w", err)
	}
	f, err := s.client.ConsulterFichePenale(ctx, mv.NumeroEcrou, mv.CodeEtablissement)
	if err != nil {
		if ficheSpecific(err) {
			return nil, movementFailure(mv.Sequence, err)
		}
		return nil, fmt.Errorf("genesis: replay movement %d: %w", mv.Sequence, err)
	}
	pr, err := PenalRecordMessage(f, now)
	if err != nil {
		return nil, connectors.Permanent(err)
	}
	ce, err := CustodyEventMessage(&mv, f)
	if err != nil {
		return nil, connectors.Permanent(err)
	}
	return []*canonical.Message{pr, ce}, nil
}
