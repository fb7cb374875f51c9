package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Lease is the exclusive right to run one polling source (or the relay) among all the
// hub processes sharing the database: a session-level advisory lock held on a
// dedicated connection. When the process dies, PostgreSQL ends the session and the lock
// is free for another process. Ingest transactions of the source run on the same
// connection, so a process that lost its connection (and so its lock) cannot commit.
type Lease struct {
	name string
	key  int64
	conn *pgxpool.Conn
}

// LeaseKey is the advisory lock key of a lease name.
func LeaseKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("passerelle:lease:" + name))
	return int64(h.Sum64())
}

// AcquireLease blocks until this process holds the lease name, trying again every
// retry, or until ctx ends.
func (s *Store) AcquireLease(ctx context.Context, name string, retry time.Duration) (*Lease, error) {
	key := LeaseKey(name)
	for {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: lease %s: %w", name, err)
		}
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			conn.Release()
			return nil, fmt.Errorf("store: lease %s: %w", name, err)
		}
		if ok {
			return &Lease{name: name, key: key, conn: conn}, nil
		}
		conn.Release()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retry):
		}
	}
}

// Name is the lease's name.
func (l *Lease) Name() string { return l.name }

// Begin starts a transaction on the lease's connection (it makes a Lease a Beginner).
func (l *Lease) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := l.conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	return tx, nil
}

// Check verifies that the lease's session is alive and still holds the lock.
func (l *Lease) Check(ctx context.Context) error {
	var held bool
	err := l.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
		AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)`, l.key).Scan(&held)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	if !held {
		return ErrLeaseLost
	}
	return nil
}

// Release gives the lease up.
func (l *Lease) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key); err != nil {
		// The session is unusable: close it so that PostgreSQL frees the lock.
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}

// Checkpoint returns a source's saved position; ok is false when it has none yet.
func (s *Store) Checkpoint(ctx context.Context, source string) (position string, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT position FROM checkpoints WHERE source = $1`, source).Scan(&position)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: checkpoint %s: %w", source, err)
	}
	return position, true, nil
}
