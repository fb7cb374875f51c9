package appi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
)

// Tables the sink writes.
const (
	// TableDessaisissements takes the case transfers.
	TableDessaisissements = "appi.dessaisissements_entrants"
	// TableRapports takes the validated reports.
	TableRapports = "appi.rapports_entrants"
)

// SinkOptions configure a Sink.
type SinkOptions struct {
	// Timeout bounds one delivery's statements. Default DefaultTimeout.
	Timeout time.Duration
	// Logger receives technical events only. Default: no logs.
	Logger *zap.Logger
}

// Sink writes case transfers into appi.dessaisissements_entrants and validated
// reports into appi.rapports_entrants (connectors.Sink). It is safe for concurrent
// use.
type Sink struct {
	pool *pgxpool.Pool
	tmo  time.Duration
	log  *zap.Logger
	// insertOnly is set once the database refused to let the hub read back the id
	// of what it inserted (the contract's partner role: INSERT, no SELECT).
	insertOnly atomic.Bool
}

// NewSink returns a sink writing through pool. It does not contact the database.
func NewSink(pool *pgxpool.Pool, o SinkOptions) *Sink {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Sink{pool: pool, tmo: o.Timeout, log: o.Logger}
}

// Receipt is the Detail of a delivery's receipt.
type Receipt struct {
	// Table is the table written.
	Table string `json:"table"`
	// ID is the row's id in that table; 0 when the hub's role may not read it back.
	ID int64 `json:"id,omitempty"`
	// ReferenceExterne is the row's reference_externe (the idempotency key).
	ReferenceExterne string `json:"referenceExterne"`
	// Replay is true when the row was already there (an earlier attempt or a replay
	// inserted it): nothing was written.
	Replay bool `json:"replay"`
}

// Deliver writes one message as one row (see the package doc):
//
//   - a case transfer (fr.justice.case-transfer.v1) → dessaisissements_entrants,
//     a report (fr.justice.report.v1) → rapports_entrants, reference_externe the
//     delivery's idempotency key; any other type is a permanent ErrUnsupported;
//   - INSERT ... ON CONFLICT (reference_externe) DO NOTHING: a row already there is a
//     success, with that row's id (a retry or a replay never makes a second row);
//   - a report's document is checked against its sha256 and size before anything is
//     written: a mismatch is a permanent ErrDigestMismatch;
//   - a row the database refuses for its content (NOT NULL, CHECK, type) is a
//     permanent *RefusedError naming the column or constraint; the database
//     unreachable, slow, or refusing the hub's rights is a transient ErrUnavailable.
//
// The receipt's ID is the row's id; where the hub's role may insert but not read
// (the contract's partner grants), it is reference_externe, and Detail says so.
func (s *Sink) Deliver(ctx context.Context, d connectors.Delivery) (connectors.Receipt, error) {
	if d.Message == nil {
		return connectors.Receipt{}, connectors.Permanent(fmt.Errorf("%w: no message", ErrInvalidMessage))
	}
	if d.IdempotencyKey == "" {
		return connectors.Receipt{}, connectors.Permanent(fmt.Errorf("%w: message %s", ErrIdempotencyKey, d.Message.ID))
	}
	ins, err := statementFor(d.Message, ReferenceExterne(d.Message, d.IdempotencyKey))
	if err != nil {
		return connectors.Receipt{}, connectors.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return connectors.Receipt{}, err
	}
	qctx, cancel := context.WithTimeout(ctx, s.tmo)
	defer cancel()
	rec, err := s.insert(qctx, ins)
	if err != nil {
		if ctx.Err() != nil {
			return connectors.Receipt{}, fmt.Errorf("appi: deliver message %s: %w", d.Message.ID, ctx.Err())
		}
		return connectors.Receipt{}, err
	}
	if rec.Replay {
		s.log.Debug("row already in APPI: delivered before", zap.String("message_id", d.Message.ID),
			zap.String("table", rec.Table))
	}
	detail, _ := json.Marshal(rec) // strings, an int and a bool
	id := rec.ReferenceExterne
	if rec.ID > 0 {
		id = strconv.FormatInt(rec.ID, 10)
	}
	return connectors.Receipt{ID: id, Detail: detail}, nil
}

// ReferenceExterne is the reference_externe of the row a message becomes: the PRISME
// event's id, as the contract says, for what comes from PRISME's feed (the fact
// evenement/<id>, whose idempotency key PRISME:evenement/<id>:0 it stands for one to
// one); the delivery's idempotency key for anything else.
func ReferenceExterne(m *canonical.Message, key string) string {
	if m.FactSystem == canonical.SystemPrisme {
		if id, ok := strings.CutPrefix(m.FactRef, canonical.PrismeEventRef("")); ok && id != "" {
			return id
		}
	}
	return key
}

// keyOfReference is the idempotency key a reference_externe stands for (the inverse
// of ReferenceExterne).
func keyOfReference(ref string) string {
	if strings.Contains(ref, ":") {
		return ref
	}
	return canonical.FactID{System: canonical.SystemPrisme, Ref: canonical.PrismeEventRef(ref)}.IdempotencyKey()
}

// Holdings lists, for reconcile (connectors.Holdings), the idempotency keys of the
// rows APPI holds in its intake tables for the types given (case transfers, reports).
// It needs SELECT on those tables, which the contract's partner grants do not give:
// then it fails, saying so, and reconcile cannot ask APPI.
func (s *Sink) Holdings(ctx context.Context, types []string, fn func(key string) error) error {
	for _, t := range types {
		table := ""
		switch t {
		case canonical.TypeCaseTransfer:
			table = TableDessaisissements
		case canonical.TypeReport:
			table = TableRapports
		default:
			continue
		}
		rows, err := s.pool.Query(ctx, `SELECT reference_externe FROM `+table)
		if err != nil {
			return fmt.Errorf("appi: holdings of %s: %w", table, classifyHoldings(err))
		}
		var ref string
		if _, err := pgx.ForEachRow(rows, []any{&ref}, func() error { return fn(keyOfReference(ref)) }); err != nil {
			return fmt.Errorf("appi: holdings of %s: %w", table, classifyHoldings(err))
		}
	}
	return nil
}

// classifyHoldings names a refusal of SELECT for what it is.
func classifyHoldings(err error) error {
	if isInsufficientPrivilege(err) {
		return fmt.Errorf("%w: the hub's role may insert into APPI's intake tables but not read them", ErrUnavailable)
	}
	return err
}

// insertion is one row to write.
type insertion struct {
	table string
	key   string
	cols  string
	args  []any
}

// statementFor maps a message to its row.
func statementFor(m *canonical.Message, key string) (insertion, error) {
	switch m.Type {
	case canonical.TypeCaseTransfer:
		var ct canonical.CaseTransfer
		if err := m.DecodeData(&ct); err != nil {
			return insertion{}, fmt.Errorf("%w: case transfer %s: data does not decode", ErrInvalidMessage, m.ID)
		}
		r, err := DessaisissementOf(&ct, key)
		if err != nil {
			return insertion{}, err
		}
		return insertion{table: TableDessaisissements, key: key,
			cols: `reference_externe, application_origine, numero_dossier_origine, nom, prenoms, date_naissance,
				juridiction_origine, juridiction_destination, motif, date_dessaisissement, mesures, pieces`,
			args: []any{r.ReferenceExterne, r.ApplicationOrigine, r.NumeroDossierOrigine, r.Nom, r.Prenoms,
				pgDate(r.DateNaissance), r.JuridictionOrigine, r.JuridictionDestination, r.Motif,
				pgDate(r.DateDessaisissement), string(r.Mesures), string(r.Pieces)}}, nil
	case canonical.TypeReport:
		var rp canonical.Report
		if err := m.DecodeData(&rp); err != nil {
			return insertion{}, fmt.Errorf("%w: report %s: data does not decode", ErrInvalidMessage, m.ID)
		}
		r, err := RapportOf(&rp, key)
		if err != nil {
			return insertion{}, err
		}
		return insertion{table: TableRapports, key: key,
			cols: `reference_externe, application_origine, numero_dossier, numero_mesure, nom, prenoms,
				date_naissance, type_rapport, valide_par, valide_le, document`,
			args: []any{r.ReferenceExterne, r.ApplicationOrigine, r.NumeroDossier, r.NumeroMesure, r.Nom,
				r.Prenoms, pgDate(r.DateNaissance), r.TypeRapport, r.ValidePar, r.ValideLe, string(r.Document)}}, nil
	}
	return insertion{}, fmt.Errorf("%w: %s", ErrUnsupported, m.Type)
}

// pgDate is a date argument for a date column, as text (no time zone to shift it).
func pgDate(t time.Time) string { return t.Format(time.DateOnly) }

// values returns the VALUES list "$1, $2, ..., $n", with the casts the date and jsonb
// columns need (their arguments are text).
func (in insertion) values() string {
	casts := map[string]map[int]string{
		TableDessaisissements: {6: "::date", 10: "::date", 11: "::jsonb", 12: "::jsonb"},
		TableRapports:         {7: "::date", 11: "::jsonb"},
	}[in.table]
	out := ""
	for i := 1; i <= len(in.args); i++ {
		if i > 1 {
			out += ", "
		}
		out += "$" + strconv.Itoa(i) + casts[i]
	}
	return out
}

// insert writes the row unless its reference_externe is there, and returns the id of
// the row holding it.
func (s *Sink) insert(ctx context.Context, in insertion) (Receipt, error) {
	rec := Receipt{Table: in.table, ReferenceExterne: in.key}
	op := "insert into " + in.table
	if !s.insertOnly.Load() {
		// One statement: the insert, or on conflict the existing row's id. The
		// statement's snapshot cannot see a row committed by another transaction
		// while this one waited on the conflict; that rare case reads the id again.
		sql := `WITH ins AS (INSERT INTO ` + in.table + ` (` + in.cols + `) VALUES (` + in.values() + `)
			ON CONFLICT (reference_externe) DO NOTHING RETURNING id)
			SELECT id, false FROM ins
			UNION ALL
			SELECT id, true FROM ` + in.table + ` WHERE reference_externe = $1 AND NOT EXISTS (SELECT 1 FROM ins)`
		err := s.pool.QueryRow(ctx, sql, in.args...).Scan(&rec.ID, &rec.Replay)
		switch {
		case err == nil:
			return rec, nil
		case errors.Is(err, pgx.ErrNoRows):
			err = s.pool.QueryRow(ctx, `SELECT id FROM `+in.table+` WHERE reference_externe = $1`, in.key).Scan(&rec.ID)
			if err != nil {
				return rec, classify(ctx, op, in.table, err)
			}
			rec.Replay = true
			return rec, nil
		case !isInsufficientPrivilege(err):
			return rec, classify(ctx, op, in.table, err)
		}
		s.insertOnly.Store(true)
		s.log.Info("the hub's role may insert but not read back: receipts carry reference_externe",
			zap.String("table", in.table))
	}
	// Without SELECT, PostgreSQL refuses even a conflict target (inferring the
	// arbiter index reads the column): ON CONFLICT DO NOTHING without one. The
	// contract's only unique column besides the id is reference_externe.
	tag, err := s.pool.Exec(ctx, `INSERT INTO `+in.table+` (`+in.cols+`) VALUES (`+in.values()+`)
		ON CONFLICT DO NOTHING`, in.args...)
	if err != nil {
		return rec, classify(ctx, op, in.table, err)
	}
	rec.Replay = tag.RowsAffected() == 0
	return rec, nil
}

// isInsufficientPrivilege reports SQLSTATE 42501.
func isInsufficientPrivilege(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}
