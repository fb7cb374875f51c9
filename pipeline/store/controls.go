package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Control is an operator's pause or resume of a route or a source, as recorded.
type Control struct {
	Kind      string // "route" or "source"
	Name      string
	Paused    bool
	Reason    string
	ChangedBy string
	ChangedAt time.Time
}

// Controls returns every recorded control (paused or last resumed).
func (s *Store) Controls(ctx context.Context) ([]Control, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, name, paused, reason, changed_by, changed_at FROM controls ORDER BY kind, name`)
	if err != nil {
		return nil, fmt.Errorf("store: controls: %w", err)
	}
	defer rows.Close()
	var out []Control
	for rows.Next() {
		var c Control
		if err := rows.Scan(&c.Kind, &c.Name, &c.Paused, &c.Reason, &c.ChangedBy, &c.ChangedAt); err != nil {
			return nil, fmt.Errorf("store: controls: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: controls: %w", err)
	}
	return out, nil
}

// SetPaused pauses or resumes a route or a source on behalf of actor, and audits it in
// the same transaction. It reports whether the state changed (pausing a paused route
// changes nothing and audits nothing).
func (s *Store) SetPaused(ctx context.Context, kind, name string, paused bool, reason, actor string) (bool, error) {
	if kind != "route" && kind != "source" {
		return false, fmt.Errorf("store: control kind %q: must be route or source", kind)
	}
	changed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, `SELECT paused FROM controls WHERE kind = $1 AND name = $2 FOR UPDATE`, kind, name).Scan(&was)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			was = false
		case err != nil:
			return err
		}
		if was == paused {
			return nil
		}
		changed = true
		if _, err := tx.Exec(ctx, `INSERT INTO controls (kind, name, paused, reason, changed_by, changed_at)
			VALUES ($1, $2, $3, $4, $5, now())
			ON CONFLICT (kind, name) DO UPDATE SET paused = excluded.paused, reason = excluded.reason,
				changed_by = excluded.changed_by, changed_at = excluded.changed_at`, kind, name, paused, reason, actor); err != nil {
			return err
		}
		e := AuditEntry{Actor: actor, Action: "resume", Outcome: "resumed", Reference: kind + ":" + name}
		if paused {
			e.Action, e.Outcome = "pause", "paused"
		}
		if kind == "route" {
			e.Route = name
		}
		return s.appendAudit(ctx, tx, []AuditEntry{e})
	})
	if err != nil {
		return false, fmt.Errorf("store: %s %s: %w", kind, name, err)
	}
	return changed, nil
}

// ResetCheckpoint sets a source's checkpoint to position on behalf of actor, inside the
// source's lease (so that no running source commits over it), and audits the old and
// new positions. It returns the previous position ("" when there was none).
func (s *Store) ResetCheckpoint(ctx context.Context, lease *Lease, source, position, actor string) (string, error) {
	if lease == nil || lease.Name() != "source:"+source {
		return "", fmt.Errorf("store: reset checkpoint of %s: needs the source's lease", source)
	}
	var prev string
	err := pgx.BeginFunc(ctx, lease, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT position FROM checkpoints WHERE source = $1 FOR UPDATE`, source).Scan(&prev)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO checkpoints (source, position, updated_at) VALUES ($1, $2, now())
			ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`, source, position); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, []AuditEntry{{Actor: actor, Action: "reset-checkpoint", Outcome: "reset",
			Reference: fmt.Sprintf("source:%s from:%q to:%q", source, prev, position)}})
	})
	if err != nil {
		return "", fmt.Errorf("store: reset checkpoint of %s: %w", source, err)
	}
	return prev, nil
}

// QuarantineCount is the number of open quarantine items of a stage and connector.
type QuarantineCount struct {
	Stage, Connector string
	Open             int64
}

// QuarantineCounts counts the open quarantine items by stage and connector.
func (s *Store) QuarantineCounts(ctx context.Context) ([]QuarantineCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT stage, connector, count(*) FROM quarantine WHERE status = 'open'
		GROUP BY stage, connector ORDER BY stage, connector`)
	if err != nil {
		return nil, fmt.Errorf("store: quarantine counts: %w", err)
	}
	defer rows.Close()
	var out []QuarantineCount
	for rows.Next() {
		var c QuarantineCount
		if err := rows.Scan(&c.Stage, &c.Connector, &c.Open); err != nil {
			return nil, fmt.Errorf("store: quarantine counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: quarantine counts: %w", err)
	}
	return out, nil
}

// RouteCounts is what happened on a route: its deliveries by status.
type RouteCounts struct {
	Pending, Delivered, Superseded, Quarantined int64
}

// RouteCountsByRoute counts each route's deliveries by status. With pendingOnly, only
// Pending is counted, from the pending rows alone (cheap enough for a probe); the
// totals read every delivery row.
func (s *Store) RouteCountsByRoute(ctx context.Context, pendingOnly bool) (map[string]RouteCounts, error) {
	q := `SELECT route, count(*) FILTER (WHERE status = 'pending'),
		count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'superseded'),
		count(*) FILTER (WHERE status = 'quarantined') FROM deliveries GROUP BY route`
	if pendingOnly {
		q = `SELECT route, count(*), 0, 0, 0 FROM deliveries WHERE status = 'pending' GROUP BY route`
	}
	rows, err := s.pool.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: route counts: %w", err)
	}
	defer rows.Close()
	out := map[string]RouteCounts{}
	for rows.Next() {
		var r string
		var c RouteCounts
		if err := rows.Scan(&r, &c.Pending, &c.Delivered, &c.Superseded, &c.Quarantined); err != nil {
			return nil, fmt.Errorf("store: route counts: %w", err)
		}
		out[r] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: route counts: %w", err)
	}
	return out, nil
}
