package appi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
)

// SourceOptions configure a Source.
type SourceOptions struct {
	// BatchSize bounds the rows one Read returns (late rows first, then new ones).
	// Default DefaultBatchSize.
	BatchSize int
	// VisibilityDelay is how long a missing seq is waited for once a higher one was
	// seen. Default DefaultVisibilityDelay (the contract's 30 s); lower only in tests.
	VisibilityDelay time.Duration
	// Timeout bounds one Read's queries. Default DefaultTimeout.
	Timeout time.Duration
	// Logger receives technical events only (seqs, counts, error classes). Default: no
	// logs.
	Logger *zap.Logger
}

// Source polls appi.mesures_export (connectors.Source) and decodes quarantined rows
// again on replay (connectors.Decoder). Read is not safe for concurrent use on one
// position stream, which the pipeline never does; Decode is safe for concurrent use.
type Source struct {
	pool  *pgxpool.Pool
	batch int
	delay time.Duration
	tmo   time.Duration
	log   *zap.Logger
}

// NewSource returns a source reading through pool, whose sessions must run with
// TimeZone UTC and DateStyle ISO (PoolConfig sets them). It does not contact the
// database.
func NewSource(pool *pgxpool.Pool, o SourceOptions) *Source {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.VisibilityDelay < 0 {
		o.VisibilityDelay = 0
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Source{pool: pool, batch: o.BatchSize, delay: o.VisibilityDelay, tmo: o.Timeout, log: o.Logger}
}

// exportColumns are the columns read, every one as text (see Row).
const exportColumns = `seq, numero_mesure, numero_dossier, nom, prenoms, date_naissance::text, numero_parquet,
	numero_ecrou, code_etablissement, type_mesure, juridiction, jap, spip_antenne, date_decision::text,
	date_debut::text, date_fin::text, obligations, statut, observations, maj_le::text`

// Read returns the rows after position, as facts in seq order, and the position after
// them (see position for its form).
//
// One Read is one read-only REPEATABLE READ transaction, so that everything it
// decides holds for one snapshot of the table. It first asks the database's clock
// twice — before the snapshot (t0) and after it (t1) — then reads:
//
//  1. the rows of the open gaps (seqs missing when a higher one was seen: their
//     transactions had not committed yet), at most BatchSize;
//  2. the rows above the highest seq seen, up to the batch's remaining room. Missing
//     seqs between them become a new gap, missing since t1.
//
// Then a gap missing since before t0 - VisibilityDelay, and still absent from this
// snapshot (taken after t0), is given up for good, and logged with its seqs: the
// contract says a seq not visible 30 s after a higher one was seen never will be (its
// transaction rolled back). Every seq is therefore emitted at most once (it leaves its
// gap, or raises the highest seq, in the same position the pipeline saves with the
// fact) and none is given up before its delay.
//
// A row that cannot be mapped is a Fact with Err (stage "map") and its raw row: it is
// quarantined and the batch goes on. The database unreachable, slow beyond Timeout or
// refusing the query is a transient ErrUnavailable, and the position stays where it
// was. A Read that finds nothing new and gives nothing up returns position unchanged.
func (s *Source) Read(ctx context.Context, position string) (connectors.Batch, error) {
	pos, err := parsePosition(position)
	if err != nil {
		return connectors.Batch{}, connectors.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return connectors.Batch{}, err
	}
	qctx, cancel := context.WithTimeout(ctx, s.tmo)
	defer cancel()
	snap, err := s.snapshot(qctx, pos)
	if err != nil {
		if ctx.Err() != nil {
			return connectors.Batch{}, ctx.Err()
		}
		return connectors.Batch{}, unavailable("read mesures_export", err)
	}

	next := pos
	next.gaps = slices.Clone(pos.gaps)
	var rows []*Row
	for _, r := range snap.late {
		if next.inGap(r.Seq) {
			next.fill(r.Seq)
			rows = append(rows, r)
		}
	}
	for _, r := range snap.tail {
		if r.Seq > next.high {
			next.advance(r.Seq, snap.t1)
			rows = append(rows, r)
		}
	}
	limit := next.high
	if snap.lateFull && len(snap.late) > 0 {
		limit = snap.late[len(snap.late)-1].Seq
	}
	for _, g := range next.expire(snap.t0-s.delay.Microseconds(), limit) {
		s.log.Warn("seqs given up: not visible within the visibility delay after a higher seq",
			zap.Int64("seq_from", g.lo), zap.Int64("seq_to", g.hi), zap.Duration("visibility_delay", s.delay))
	}
	if len(snap.late) > 0 {
		s.log.Debug("late rows read", zap.Int("count", len(snap.late)))
	}
	slices.SortFunc(rows, func(a, b *Row) int { return cmp.Compare(a.Seq, b.Seq) })
	batch := connectors.Batch{Facts: make([]connectors.Fact, 0, len(rows)), Next: next.String()}
	if len(rows) == 0 && batch.Next == pos.String() {
		batch.Next = position
	}
	for _, r := range rows {
		batch.Facts = append(batch.Facts, rowFact(r))
	}
	return batch, nil
}

// snapshot is what one Read saw.
type snapshot struct {
	t0, t1   int64  // the database's clock before and after the snapshot, µs
	late     []*Row // rows of the open gaps
	lateFull bool   // the gap query hit the batch size: seqs above its last row not looked for
	tail     []*Row // rows above the highest seq seen
}

// snapshot reads, in one REPEATABLE READ transaction, the clock, the gaps' rows and
// the rows above the highest seq.
func (s *Source) snapshot(ctx context.Context, pos position) (snapshot, error) {
	var snap snapshot
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return snap, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// statement_timestamp() is fixed when the statement starts, before the snapshot
	// it takes; clock_timestamp() is read while it runs, after.
	var t0, t1 time.Time
	if err := tx.QueryRow(ctx, "SELECT statement_timestamp(), clock_timestamp()").Scan(&t0, &t1); err != nil {
		return snap, err
	}
	snap.t0, snap.t1 = t0.UnixMicro(), t1.UnixMicro()
	if len(pos.gaps) > 0 {
		lo := make([]int64, len(pos.gaps))
		hi := make([]int64, len(pos.gaps))
		for i, g := range pos.gaps {
			lo[i], hi[i] = g.lo, g.hi
		}
		// Each gap is its own index range scan: the cost follows the gaps' sizes, not
		// the rows between the lowest gap and the highest seq.
		snap.late, err = queryRows(ctx, tx, `SELECT `+exportColumns+`
			FROM unnest($1::int8[], $2::int8[]) AS g(lo, hi)
			CROSS JOIN LATERAL (SELECT * FROM appi.mesures_export m
				WHERE m.seq BETWEEN g.lo AND g.hi ORDER BY m.seq LIMIT $3) AS late
			ORDER BY seq LIMIT $3`, lo, hi, s.batch)
		if err != nil {
			return snap, err
		}
		snap.lateFull = len(snap.late) == s.batch
	}
	if room := s.batch - len(snap.late); room > 0 {
		snap.tail, err = queryRows(ctx, tx, `SELECT `+exportColumns+` FROM appi.mesures_export
			WHERE seq > $1 ORDER BY seq LIMIT $2`, pos.high, room)
		if err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// queryRows runs a query of exportColumns.
func queryRows(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]*Row, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(cr pgx.CollectableRow) (*Row, error) {
		var r Row
		var mesure, dossier, nom, prenoms, naissance, typ, juridiction, decision, statut, majLe *string
		err := cr.Scan(&r.Seq, &mesure, &dossier, &nom, &prenoms, &naissance, &r.NumeroParquet,
			&r.NumeroEcrou, &r.CodeEtablissement, &typ, &juridiction, &r.JAP, &r.SPIPAntenne, &decision,
			&r.DateDebut, &r.DateFin, &r.Obligations, &statut, &r.Observations, &majLe)
		r.NumeroMesure, r.NumeroDossier, r.Nom, r.Prenoms = text(mesure), text(dossier), text(nom), text(prenoms)
		r.DateNaissance, r.TypeMesure, r.Juridiction = text(naissance), text(typ), text(juridiction)
		r.DateDecision, r.Statut, r.MajLe = text(decision), text(statut), text(majLe)
		return &r, err
	})
}

// rowFact is the fact of one row: its measure, or the reason it cannot be mapped.
func rowFact(r *Row) connectors.Fact {
	f := connectors.Fact{Raw: EncodeRow(r), ContentType: ContentTypeRow}
	if checkRow(r) == nil {
		id := MeasureFact(r)
		f.Fact = &id
	}
	msg, err := MeasureMessage(r)
	if err != nil {
		f.Err, f.Stage = err, "map"
		return f
	}
	f.Messages = []*canonical.Message{msg}
	return f
}

// Inventory lists, for reconcile (connectors.Inventory), every measure APPI's export
// holds at its newest seq. It reads the table as it is now, without the visibility
// delay of Read: a seq still invisible is not held yet.
func (s *Source) Inventory(ctx context.Context, fn func(canonical.FactID) error) error {
	rows, err := s.pool.Query(ctx, `SELECT numero_mesure, max(seq) FROM appi.mesures_export GROUP BY numero_mesure`)
	if err != nil {
		return fmt.Errorf("appi: inventory: %w", err)
	}
	var numero string
	var seq int64
	_, err = pgx.ForEachRow(rows, []any{&numero, &seq}, func() error {
		return fn(canonical.FactID{System: canonical.SystemAPPI, Ref: canonical.APPIMeasureRef(numero), Version: seq})
	})
	if err != nil {
		return fmt.Errorf("appi: inventory: %w", err)
	}
	return nil
}

// Decode turns a quarantined raw row back into its measure (connectors.Decoder), for
// `passerelle replay`: the row as it was read, mapped by the current code, without
// reading APPI again (a newer state of the measure has its own seq). Errors are
// permanent: the same bytes fail the same way.
func (s *Source) Decode(_ context.Context, raw []byte, _ string) ([]*canonical.Message, error) {
	r, err := DecodeRow(raw)
	if err != nil {
		return nil, err
	}
	m, err := MeasureMessage(r)
	if err != nil {
		if errors.Is(err, ErrInvalidRow) {
			return nil, connectors.Permanent(err)
		}
		return nil, connectors.Permanent(fmt.Errorf("appi: replay seq %d: %w", r.Seq, err))
	}
	return []*canonical.Message{m}, nil
}
