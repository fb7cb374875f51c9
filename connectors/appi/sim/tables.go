package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Mesure is one row of appi.mesures_export as APPI writes it: the full state of a
// measure after a change. Nullable text columns are pointers (nil is NULL, which APPI
// distinguishes from ”); nullable dates are "" for NULL. Dates are YYYY-MM-DD.
type Mesure struct {
	// Seq is the export sequence, set by the database (read back by Insert).
	Seq               int64
	NumeroMesure      string
	NumeroDossier     string
	Nom               string
	Prenoms           string // space separated
	DateNaissance     string
	NumeroParquet     *string
	NumeroEcrou       *string
	CodeEtablissement *string
	TypeMesure        string
	Juridiction       string
	JAP               *string
	SPIPAntenne       *string
	DateDecision      string
	DateDebut         string
	DateFin           string
	Obligations       *string // ';' separated codes
	Statut            string
	Observations      *string
	// MajLe is when APPI changed the measure; zero lets the database stamp now().
	MajLe time.Time
}

// Str returns a pointer to s, for the nullable columns.
func Str(s string) *string { return &s }

// insertMesure appends one row; seq comes from the table's sequence.
const insertMesure = `INSERT INTO appi.mesures_export (numero_mesure, numero_dossier, nom, prenoms, date_naissance,
	numero_parquet, numero_ecrou, code_etablissement, type_mesure, juridiction, jap, spip_antenne,
	date_decision, date_debut, date_fin, obligations, statut, observations, maj_le)
VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8, $9, $10, $11, $12, $13::date, NULLIF($14, '')::date, NULLIF($15, '')::date,
	$16, $17, $18, COALESCE($19, now()))
RETURNING seq`

// args are the insert's arguments for m.
func (m *Mesure) args() []any {
	var majLe *time.Time
	if !m.MajLe.IsZero() {
		t := m.MajLe
		majLe = &t
	}
	return []any{m.NumeroMesure, m.NumeroDossier, m.Nom, m.Prenoms, m.DateNaissance,
		m.NumeroParquet, m.NumeroEcrou, m.CodeEtablissement, m.TypeMesure, m.Juridiction, m.JAP, m.SPIPAntenne,
		m.DateDecision, m.DateDebut, m.DateFin, m.Obligations, m.Statut, m.Observations, majLe}
}

// Insert appends rows to appi.mesures_export in one transaction, in order, and sets
// each row's Seq. Nothing is written when any row is refused.
func (db *DB) Insert(ctx context.Context, rows ...*Mesure) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return insertRows(ctx, tx, rows) })
}

// insertRows sends the inserts of rows as one batch in tx.
func insertRows(ctx context.Context, tx pgx.Tx, rows []*Mesure) error {
	const chunk = 1000
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		b := &pgx.Batch{}
		for _, m := range part {
			b.Queue(insertMesure, m.args()...)
		}
		br := tx.SendBatch(ctx, b)
		for _, m := range part {
			if err := br.QueryRow().Scan(&m.Seq); err != nil {
				_ = br.Close()
				return fmt.Errorf("appi sim: insert measure row: %w", err)
			}
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("appi sim: insert measure rows: %w", err)
		}
	}
	return nil
}

// LateTx is an open transaction holding rows whose seqs are taken but not visible:
// APPI's long transactions. Commit makes them visible — after rows of higher seqs
// committed meanwhile — and Rollback loses their seqs for good.
type LateTx struct {
	tx   pgx.Tx
	rows []*Mesure
	once sync.Once
}

// BeginLate inserts rows in a transaction that stays open until Commit or Rollback;
// their Seq fields are set at once.
func (db *DB) BeginLate(ctx context.Context, rows ...*Mesure) (*LateTx, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("appi sim: begin late transaction: %w", err)
	}
	if err := insertRows(ctx, tx, rows); err != nil {
		_ = tx.Rollback(context.Background())
		return nil, err
	}
	return &LateTx{tx: tx, rows: rows}, nil
}

// Seqs are the seqs the transaction holds.
func (l *LateTx) Seqs() []int64 {
	out := make([]int64, len(l.rows))
	for i, m := range l.rows {
		out[i] = m.Seq
	}
	return out
}

// Commit makes the rows visible.
func (l *LateTx) Commit(ctx context.Context) error {
	err := errors.New("appi sim: late transaction already ended")
	l.once.Do(func() { err = l.tx.Commit(ctx) })
	if err != nil {
		return fmt.Errorf("appi sim: commit late transaction: %w", err)
	}
	return nil
}

// Rollback loses the rows and their seqs.
func (l *LateTx) Rollback(ctx context.Context) error {
	err := errors.New("appi sim: late transaction already ended")
	l.once.Do(func() { err = l.tx.Rollback(ctx) })
	if err != nil {
		return fmt.Errorf("appi sim: roll back late transaction: %w", err)
	}
	return nil
}

// CommitAfter commits the transaction after d (in its own goroutine) and reports the
// outcome on the returned channel; ctx ending first rolls it back.
func (l *LateTx) CommitAfter(ctx context.Context, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			done <- l.Commit(context.WithoutCancel(ctx))
		case <-ctx.Done():
			_ = l.Rollback(context.Background())
			done <- ctx.Err()
		}
	}()
	return done
}

// LoseSeqs takes n seqs of appi.mesures_export and rolls back: gaps that never fill.
func (db *DB) LoseSeqs(ctx context.Context, n int) ([]int64, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("appi sim: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	var seqs []int64
	for range n {
		var s int64
		if err := tx.QueryRow(ctx, "SELECT nextval(pg_get_serial_sequence('appi.mesures_export', 'seq'))").Scan(&s); err != nil {
			return nil, fmt.Errorf("appi sim: take a seq: %w", err)
		}
		seqs = append(seqs, s)
	}
	return seqs, nil
}

// Mesures reads appi.mesures_export in seq order (the visible rows).
func (db *DB) Mesures(ctx context.Context) ([]Mesure, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, numero_mesure, numero_dossier, nom, prenoms, date_naissance::text,
		numero_parquet, numero_ecrou, code_etablissement, type_mesure, juridiction, jap, spip_antenne,
		date_decision::text, COALESCE(date_debut::text, ''), COALESCE(date_fin::text, ''), obligations, statut,
		observations, maj_le FROM appi.mesures_export ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("appi sim: read mesures_export: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Mesure, error) {
		var m Mesure
		err := r.Scan(&m.Seq, &m.NumeroMesure, &m.NumeroDossier, &m.Nom, &m.Prenoms, &m.DateNaissance,
			&m.NumeroParquet, &m.NumeroEcrou, &m.CodeEtablissement, &m.TypeMesure, &m.Juridiction, &m.JAP,
			&m.SPIPAntenne, &m.DateDecision, &m.DateDebut, &m.DateFin, &m.Obligations, &m.Statut,
			&m.Observations, &m.MajLe)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("appi sim: read mesures_export: %w", err)
	}
	return out, nil
}

// Dessaisissement is one row of appi.dessaisissements_entrants as APPI holds it.
// Mesures and Pieces are the jsonb columns as stored.
type Dessaisissement struct {
	ID                     int64
	ReferenceExterne       string
	ApplicationOrigine     string
	NumeroDossierOrigine   string
	Nom                    string
	Prenoms                string
	DateNaissance          string
	JuridictionOrigine     string
	JuridictionDestination string
	Motif                  string
	DateDessaisissement    string
	Mesures                []byte
	Pieces                 []byte
	RecuLe                 time.Time
}

// Dessaisissements reads appi.dessaisissements_entrants in id order.
func (db *DB) Dessaisissements(ctx context.Context) ([]Dessaisissement, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, reference_externe, application_origine, numero_dossier_origine, nom,
		prenoms, date_naissance::text, juridiction_origine, juridiction_destination, motif,
		date_dessaisissement::text, mesures::text, pieces::text, recu_le
		FROM appi.dessaisissements_entrants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("appi sim: read dessaisissements_entrants: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Dessaisissement, error) {
		var d Dessaisissement
		var mesures, pieces string
		err := r.Scan(&d.ID, &d.ReferenceExterne, &d.ApplicationOrigine, &d.NumeroDossierOrigine, &d.Nom,
			&d.Prenoms, &d.DateNaissance, &d.JuridictionOrigine, &d.JuridictionDestination, &d.Motif,
			&d.DateDessaisissement, &mesures, &pieces, &d.RecuLe)
		d.Mesures, d.Pieces = []byte(mesures), []byte(pieces)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("appi sim: read dessaisissements_entrants: %w", err)
	}
	return out, nil
}

// Rapport is one row of appi.rapports_entrants as APPI holds it; Document is the
// jsonb column as stored.
type Rapport struct {
	ID                 int64
	ReferenceExterne   string
	ApplicationOrigine string
	NumeroDossier      *string
	NumeroMesure       *string
	Nom                string
	Prenoms            string
	DateNaissance      string
	TypeRapport        string
	ValidePar          string
	ValideLe           time.Time
	Document           []byte
	RecuLe             time.Time
}

// Rapports reads appi.rapports_entrants in id order.
func (db *DB) Rapports(ctx context.Context) ([]Rapport, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, reference_externe, application_origine, numero_dossier, numero_mesure,
		nom, prenoms, date_naissance::text, type_rapport, valide_par, valide_le, document::text, recu_le
		FROM appi.rapports_entrants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("appi sim: read rapports_entrants: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rapport, error) {
		var x Rapport
		var doc string
		err := r.Scan(&x.ID, &x.ReferenceExterne, &x.ApplicationOrigine, &x.NumeroDossier, &x.NumeroMesure,
			&x.Nom, &x.Prenoms, &x.DateNaissance, &x.TypeRapport, &x.ValidePar, &x.ValideLe, &doc, &x.RecuLe)
		x.Document = []byte(doc)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("appi sim: read rapports_entrants: %w", err)
	}
	return out, nil
}

// Counts are the number of rows of each interface table.
type Counts struct {
	Mesures, Dessaisissements, Rapports int
}

// Count counts the visible rows of each table.
func (db *DB) Count(ctx context.Context) (Counts, error) {
	var c Counts
	err := db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM appi.mesures_export),
		(SELECT count(*) FROM appi.dessaisissements_entrants), (SELECT count(*) FROM appi.rapports_entrants)`).
		Scan(&c.Mesures, &c.Dessaisissements, &c.Rapports)
	if err != nil {
		return Counts{}, fmt.Errorf("appi sim: count rows: %w", err)
	}
	return c, nil
}

// copyColumns are the columns Copy writes: seq comes from the table's sequence.
var copyColumns = []string{"numero_mesure", "numero_dossier", "nom", "prenoms", "date_naissance",
	"numero_parquet", "numero_ecrou", "code_etablissement", "type_mesure", "juridiction", "jap", "spip_antenne",
	"date_decision", "date_debut", "date_fin", "obligations", "statut", "observations", "maj_le"}

// Copy appends rows to appi.mesures_export with COPY, in one transaction and in
// order, as a bulk load of APPI's history would (a backfill's data set, for
// benchmarks): much faster than Insert, but Seq is not read back. Nothing is written
// when any row is refused.
func (db *DB) Copy(ctx context.Context, rows ...*Mesure) error {
	src := make([][]any, 0, len(rows))
	for _, m := range rows {
		vals, err := m.copyValues()
		if err != nil {
			return err
		}
		src = append(src, vals)
	}
	if _, err := db.pool.CopyFrom(ctx, pgx.Identifier{"appi", "mesures_export"}, copyColumns, pgx.CopyFromRows(src)); err != nil {
		return fmt.Errorf("appi sim: copy measure rows: %w", err)
	}
	return nil
}

// copyValues are m's values in copyColumns' order, dates parsed (COPY is binary).
func (m *Mesure) copyValues() ([]any, error) {
	date := func(s string) (any, error) {
		if s == "" {
			return nil, nil
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, fmt.Errorf("appi sim: copy: a date is not YYYY-MM-DD: %w", err)
		}
		return d, nil
	}
	var dates [4]any
	for i, s := range []string{m.DateNaissance, m.DateDecision, m.DateDebut, m.DateFin} {
		d, err := date(s)
		if err != nil {
			return nil, err
		}
		dates[i] = d
	}
	majLe := m.MajLe
	if majLe.IsZero() {
		majLe = time.Now()
	}
	return []any{m.NumeroMesure, m.NumeroDossier, m.Nom, m.Prenoms, dates[0],
		m.NumeroParquet, m.NumeroEcrou, m.CodeEtablissement, m.TypeMesure, m.Juridiction, m.JAP, m.SPIPAntenne,
		dates[1], dates[2], dates[3], m.Obligations, m.Statut, m.Observations, majLe}, nil
}
