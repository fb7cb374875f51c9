package sim

import (
	"context"
	_ "embed" // the interface's DDL
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// InterfaceSQL is APPI's interface, version 3: a copy of contracts/appi/interface.sql.
//
//go:embed interface.sql
var InterfaceSQL string

// Execer is what CreateSchema needs: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// CreateSchema creates APPI's interface (schema appi, its three tables) in the
// database db is connected to. It is idempotent (CREATE ... IF NOT EXISTS).
func CreateSchema(ctx context.Context, db Execer) error {
	if _, err := db.Exec(ctx, InterfaceSQL); err != nil {
		return fmt.Errorf("appi sim: create the interface schema: %w", err)
	}
	return nil
}

// dbName is what EnsureDatabase accepts as a database name: an unquoted identifier.
var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// EnsureDatabase creates the database name on the server serverURL points at, unless
// it exists, and returns the URL of that database (serverURL with its path replaced).
func EnsureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("appi sim: %q is not a lower-case database name", name)
	}
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("appi sim: the server URL is not a postgres:// URL")
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("appi sim: connect to the server: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("appi sim: look for database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42P04" { // duplicate_database: created meanwhile
				return "", fmt.Errorf("appi sim: create database %s: %w", name, err)
			}
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DB is APPI's interface tables in one database.
type DB struct {
	pool *pgxpool.Pool
	own  bool
}

// DefaultMaxConns is the size of the pool Open makes when dbURL names none
// (pool_max_conns): each open LateTx holds a connection.
const DefaultMaxConns = 32

// Open connects to the database at dbURL, creates the interface schema there and
// returns it; Close closes the connections.
func Open(ctx context.Context, dbURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, errors.New("appi sim: open: unparsable database URL")
	}
	if !strings.Contains(dbURL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("appi sim: open: %w", err)
	}
	db, err := New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	db.own = true
	return db, nil
}

// New creates the interface schema in the database of pool and returns it; the pool
// stays the caller's (Close does not close it).
func New(ctx context.Context, pool *pgxpool.Pool) (*DB, error) {
	if err := CreateSchema(ctx, pool); err != nil {
		return nil, err
	}
	return &DB{pool: pool}, nil
}

// Pool is the database's pool.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool when Open made it.
func (db *DB) Close() {
	if db.own {
		db.pool.Close()
	}
}

// roleName is what GrantPartner accepts as a role: an unquoted identifier.
var roleName = dbName

// GrantPartner creates (unless it exists) the login role of a partner application
// with exactly the rights the contract gives partners: SELECT on appi.mesures_export,
// INSERT on the two intake tables (and USAGE on their id sequences, which an insert
// needs), nothing else. Roles belong to the server, not to one database: the caller
// drops it (DROP OWNED and DROP ROLE) when done.
func (db *DB) GrantPartner(ctx context.Context, role string) error {
	if !roleName.MatchString(role) {
		return fmt.Errorf("appi sim: %q is not a lower-case role name", role)
	}
	stmts := []string{
		"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + role + "') THEN CREATE ROLE " + role + " LOGIN; END IF; END $$",
		"GRANT USAGE ON SCHEMA appi TO " + role,
		"GRANT SELECT ON appi.mesures_export TO " + role,
		"GRANT INSERT ON appi.dessaisissements_entrants, appi.rapports_entrants TO " + role,
		"GRANT USAGE ON SEQUENCE appi.dessaisissements_entrants_id_seq, appi.rapports_entrants_id_seq TO " + role,
	}
	for _, s := range stmts {
		if _, err := db.pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("appi sim: grant partner %s: %s: %w", role, strings.Fields(s)[0], err)
		}
	}
	return nil
}
