package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// Store is the PostgreSQL system of record. It is safe for concurrent use.
type Store struct {
	pool       *pgxpool.Pool
	auditKey   []byte
	now        func() time.Time
	identities *identityCache // nil: none
	recent     *outboxCache   // nil: none
	linked     *identitySet   // nil: none
}

// Options tune a Store.
type Options struct {
	// MaxConns caps the connection pool. Default 16.
	MaxConns int32
	// AuditKey, when set, keys the audit chain (HMAC-SHA256) so that someone who can
	// write to the database but does not hold the key cannot recompute a valid chain
	// after tampering. Default: none (plain SHA-256, still detects any edit that does
	// not rewrite every later row).
	AuditKey []byte
	// IdentityCache is the number of identifier links one generation of the process's
	// cache holds (identityCache; two generations at most), and of identifiers its set
	// of those written from receipts (identitySet). 0: 262,144 links (about 42 MB at
	// most) and 131,072 identifiers (about 10 MB); negative: neither, every identifier
	// is looked up, and every receipt's identifier inserted.
	IdentityCache int
	// OutboxCache is the number of committed outbox messages one generation of the
	// process's cache keeps for the relay (outboxCache; two generations at most, of 8
	// MiB of payloads each), while its relay reads the outbox. 0: 4,096; negative: no
	// cache, the relay reads every payload back.
	OutboxCache int
}

// Open connects to PostgreSQL at url and applies the migrations.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: database url: %w", err)
	}
	// pgx prepares every statement, and after five executions PostgreSQL may keep a
	// generic plan made when the tables were small (a fresh database, a demo's first
	// minute): sequential scans that it then keeps as the outbox and the deliveries
	// grow. The whole-path benchmark showed it: the settlement, planned on a thousand
	// rows, scanned its way through a hundred thousand at every batch. Each statement
	// here handles a batch of rows, so planning it each time costs little.
	//
	// Every batch looks its keys up in tables that grow with the history (dedup,
	// identities, deliveries) by joining them to an unnest of the batch's keys. With
	// PostgreSQL's default random_page_cost of 4 (spinning disks), the planner costs a
	// thousand index probes above a sequential scan of a hundred thousand rows and
	// hashes the whole table at every batch: 31 ms against 5 ms for a batch of 1,000
	// keys on 100,000 dedup rows here, and the gap grows with the tables. 1.1 is the
	// usual figure for SSDs and a table in memory.
	//
	// The relay's read of the next thousand unpublished rows was often planned with two
	// parallel workers, whose start costs more than the read: with
	// max_parallel_workers_per_gather 0 the relay's reads took 2.2 s instead of 6.0 in
	// the 200,000-row APPI backfill, and PostgreSQL's work in all 47 s instead of 52.
	// The hub's statements each handle a batch; none scans enough to gain from workers.
	for k, v := range map[string]string{"plan_cache_mode": "force_custom_plan", "random_page_cost": "1.1",
		"max_parallel_workers_per_gather": "0"} {
		if _, set := cfg.ConnConfig.RuntimeParams[k]; !set {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	// Message ids are google/uuid values. pgx encodes them as driver.Valuers (each one
	// formatted to a string, then parsed back): two thirds of pgx's encoding, 4 % of the
	// hub's CPU in the whole-path profile. Registered, they go as their 16 bytes.
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	cfg.MaxConns = 16
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, auditKey: opts.AuditKey, now: time.Now, identities: newIdentityCache(opts.IdentityCache),
		linked: newIdentitySet(opts.IdentityCache), recent: newOutboxCache(opts.OutboxCache)}, nil
}

// Pool is the underlying connection pool, for the parts that need their own queries.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }
