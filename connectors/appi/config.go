package appi

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/pipeline/policy"
)

// Bounds and defaults of Config.
const (
	// DefaultBatchSize is the number of rows one Read returns at most: large enough
	// that a backfill's ingest is not paid per transaction (at 500, the ingest of
	// BenchmarkAppiBackfill took twice as long), small enough that a batch is a few MB.
	DefaultBatchSize = 2000
	// MaxBatchSize bounds Config.BatchSize: one batch is one ingest transaction.
	MaxBatchSize = 10_000
	// DefaultVisibilityDelay is the contract's bound on a late seq: 30 seconds after a
	// higher seq was first seen.
	DefaultVisibilityDelay = 30 * time.Second
	// DefaultTimeout bounds one Read's or one delivery's statements.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxConns is the pool's size: the source holds one connection while it
	// reads, deliveries one each.
	DefaultMaxConns = 4
	// MaxMaxConns bounds Config.MaxConns: APPI's owner grants partners few
	// connections.
	MaxMaxConns = 64
)

// Config is the APPI connector's settings (connectors.<name> with kind appi).
type Config struct {
	// DSN names where the connection string of APPI's database is read from: {env:
	// APPI_DSN} or {file: /run/secrets/appi-dsn}; never the string itself, which
	// carries the password. A postgres:// URL or a key=value string. Required.
	DSN config.Secret `yaml:"dsn"`
	// Poll enables the source (polling appi.mesures_export). Default true; false
	// makes a sink-only instance.
	Poll *bool `yaml:"poll"`
	// BatchSize is the number of rows one Read returns at most, 1..10000. Default 2000.
	BatchSize int `yaml:"batchSize"`
	// VisibilityDelay is how long a missing seq is waited for after a higher one was
	// seen, before it is given up as rolled back. Default 30s, the contract's bound:
	// lower it only for tests, never below what APPI's transactions take.
	VisibilityDelay *time.Duration `yaml:"visibilityDelay"`
	// Timeout bounds one Read's queries and one delivery's statements. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConns is the size of the connection pool, 1..64. Default 4.
	MaxConns int `yaml:"maxConns"`
}

// Spec registers the APPI connector.
var Spec = connectors.Spec{
	Kind: "appi",
	Summary: "source and sink: APPI (application des peines) PostgreSQL interface tables — measures polled from " +
		"mesures_export; case transfers and reports inserted into dessaisissements_entrants and rapports_entrants",
	New: newInstance,
}

// newInstance validates the settings, reporting every problem under path, and builds
// the instance: a pool (no connection is opened until the first Read or delivery),
// the source when poll is on, the sink, the decoder, recipient enforcement.
func newInstance(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
	var c Config
	ps := config.DecodeSettings(settings, &c, path)
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c.DSN.Check(path+".dsn", getenv, &ps)
	var poolCfg *pgxpool.Config
	if dsn, err := c.DSN.Resolve(getenv); err == nil {
		if poolCfg, err = PoolConfig(dsn); err != nil {
			// The parser's message may quote the string, password included: not shown.
			ps.Add(path+".dsn", "is not a PostgreSQL connection URL or key=value string")
		}
	}
	c.check(path, &ps)
	if len(ps) > 0 {
		return nil, ps
	}
	poolCfg.MaxConns = int32(c.MaxConns)
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil { // NewWithConfig does not connect: only a defect gets here
		ps.Add(path, "cannot build the connection pool")
		return nil, ps
	}
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	src := NewSource(pool, SourceOptions{BatchSize: c.BatchSize, VisibilityDelay: *c.VisibilityDelay,
		Timeout: c.Timeout, Logger: log})
	inst := &connectors.Instance{
		Sink:      NewSink(pool, SinkOptions{Timeout: c.Timeout, Logger: log}),
		Decoder:   src,
		Recipient: policy.Enforcement,
		Close: func() error {
			pool.Close()
			return nil
		},
	}
	if *c.Poll {
		inst.Source = src
	}
	return inst, nil
}

// check reports every problem of c under path and fills its defaults.
func (c *Config) check(path string, ps *config.Problems) {
	if c.Poll == nil {
		on := true
		c.Poll = &on
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = DefaultBatchSize
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		ps.Add(path+".batchSize", "must be between 1 and %d", MaxBatchSize)
	}
	if c.VisibilityDelay == nil {
		d := DefaultVisibilityDelay
		c.VisibilityDelay = &d
	} else if *c.VisibilityDelay < 0 {
		ps.Add(path+".visibilityDelay", "must not be negative")
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0:
		ps.Add(path+".timeout", "must not be negative")
	}
	switch {
	case c.MaxConns == 0:
		c.MaxConns = DefaultMaxConns
	case c.MaxConns < 1 || c.MaxConns > MaxMaxConns:
		ps.Add(path+".maxConns", "must be between 1 and %d", MaxMaxConns)
	}
}

// PoolConfig parses a connection string into a pool configuration whose sessions
// give the text forms Row expects (TimeZone UTC, DateStyle ISO) and name the hub in
// pg_stat_activity. It does not connect.
func PoolConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("appi: unparsable connection string") // the parser's text may quote a password
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["timezone"] = "UTC"
	rp["datestyle"] = "ISO, YMD"
	if rp["application_name"] == "" {
		rp["application_name"] = "passerelle"
	}
	cfg.MinConns = 0
	return cfg, nil
}
