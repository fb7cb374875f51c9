package appi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors/appi/sim"
	"passerelle/connectors/connectortest"
	"passerelle/internal/pgtest"
)

// acceptanceRows is the source fixture: a generated history of measures, a seq lost
// to a rollback in the middle (a gap that never fills) and a row without a
// numero_mesure (a failed fact).
func acceptanceRows() (before, after []*sim.Mesure) {
	g := sim.NewGenerator(sim.GeneratorOptions{Seed: 21, People: 8})
	before = g.Rows(25)
	blank := g.Next()
	blank.NumeroMesure = ""
	after = append([]*sim.Mesure{blank}, g.Rows(24)...)
	return before, after
}

// startAcceptanceAPPI creates a fresh APPI holding the fixture and returns how the
// suite reaches it.
func startAcceptanceAPPI(t *testing.T, fill bool) (appiDB, connectortest.System) {
	t.Helper()
	ctx := context.Background()
	db := newAPPI(t)
	if fill {
		before, after := acceptanceRows()
		require.NoError(t, db.Insert(ctx, before...))
		_, err := db.LoseSeqs(ctx, 1)
		require.NoError(t, err)
		require.NoError(t, db.Insert(ctx, after...))
	}
	lock := &tableLock{db: db}
	t.Cleanup(func() { lock.set(0) })
	return db, connectortest.System{
		Settings:   map[string]any{"dsn": dsnFile(t, db.URL), "batchSize": 7, "visibilityDelay": "1ms", "timeout": "10s"},
		Calls:      func() int64 { return connectionsOfTheHub(t, db) },
		SetLatency: lock.set,
		Fail:       func(f connectortest.Fault) { inject(t, db, f) },
	}
}

// inject makes APPI's database fail as a real one does: down (the hub's connections
// terminated, new ones refused: SQLSTATE 57P01 and 55000), or refusing every intake
// row (a CHECK constraint no row passes: SQLSTATE 23514). NoFault undoes both.
func inject(t *testing.T, db appiDB, f connectortest.Fault) {
	ctx := context.Background()
	var name string
	if !assert.NoError(t, db.Pool().QueryRow(ctx, "SELECT current_database()").Scan(&name)) {
		return
	}
	// ALLOW_CONNECTIONS cannot be changed from inside the database: from the server's
	// maintenance database.
	server, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if !assert.NoError(t, err) {
		return
	}
	defer func() { _ = server.Close(ctx) }()
	type stmt struct {
		on interface {
			Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		}
		sql string
	}
	var stmts []stmt
	switch f {
	case connectortest.TransientFault:
		stmts = []stmt{{server, "ALTER DATABASE " + name + " ALLOW_CONNECTIONS false"},
			{server, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = '` + name + `' AND application_name = 'passerelle'`}}
	case connectortest.PermanentFault:
		for _, table := range []string{TableDessaisissements, TableRapports} {
			stmts = append(stmts, stmt{db.Pool(), "ALTER TABLE " + table + " ADD CONSTRAINT refuse_all CHECK (false) NOT VALID"})
		}
	default:
		stmts = []stmt{{server, "ALTER DATABASE " + name + " ALLOW_CONNECTIONS true"}}
		for _, table := range []string{TableDessaisissements, TableRapports} {
			stmts = append(stmts, stmt{db.Pool(), "ALTER TABLE " + table + " DROP CONSTRAINT IF EXISTS refuse_all"})
		}
	}
	for _, s := range stmts {
		_, err := s.on.Exec(ctx, s.sql)
		assert.NoError(t, err, "%s", s.sql)
	}
}

// connectionsOfTheHub counts the connections the connector opened to db: what proves
// that building the instance contacts nobody.
func connectionsOfTheHub(t *testing.T, db appiDB) int64 {
	var n int64
	require.NoError(t, db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'passerelle'`).Scan(&n))
	return n
}

// tableLock makes APPI slow: while set, a transaction holds every interface table
// in ACCESS EXCLUSIVE mode, so reads and inserts wait (until the caller gives up and
// pgx cancels its query).
type tableLock struct {
	db appiDB
	mu sync.Mutex
	tx pgx.Tx
}

func (l *tableLock) set(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx := context.Background()
	if d <= 0 {
		if l.tx != nil {
			_ = l.tx.Rollback(ctx)
			l.tx = nil
		}
		return
	}
	if l.tx != nil {
		return
	}
	tx, err := l.db.Pool().Begin(ctx)
	if err != nil {
		panic(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE appi.mesures_export, appi.dessaisissements_entrants,
		appi.rapports_entrants IN ACCESS EXCLUSIVE MODE`); err != nil {
		panic(err)
	}
	l.tx = tx
}

// badSettings are broken settings, each refused at its path.
func badSettings(t *testing.T) []connectortest.BadSettings {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	require.NoError(t, os.WriteFile(garbage, []byte("not a connection string"), 0o600))
	good := filepath.Join(dir, "good")
	require.NoError(t, os.WriteFile(good, []byte("postgres://appi@appi.justice.example/appi"), 0o600))
	dsn := map[string]any{"file": good}
	return []connectortest.BadSettings{
		{Name: "a missing dsn", Settings: map[string]any{}, Path: "dsn"},
		{Name: "a dsn in an unset environment variable", Settings: map[string]any{"dsn": map[string]any{"env": "APPI_DSN_UNSET"}}, Path: "dsn"},
		{Name: "a dsn naming both a variable and a file", Settings: map[string]any{"dsn": map[string]any{"env": "X", "file": good}}, Path: "dsn"},
		{Name: "a dsn that is no connection string", Settings: map[string]any{"dsn": map[string]any{"file": garbage}}, Path: "dsn"},
		{Name: "a dsn written in the configuration itself", Settings: map[string]any{"dsn": "postgres://appi:secret@appi/appi"}},
		{Name: "a batch size above 10000", Settings: map[string]any{"dsn": dsn, "batchSize": 20000}, Path: "batchSize"},
		{Name: "a negative visibility delay", Settings: map[string]any{"dsn": dsn, "visibilityDelay": "-1s"}, Path: "visibilityDelay"},
		{Name: "a negative timeout", Settings: map[string]any{"dsn": dsn, "timeout": "-1s"}, Path: "timeout"},
		{Name: "a pool of 1000 connections", Settings: map[string]any{"dsn": dsn, "maxConns": 1000}, Path: "maxConns"},
		{Name: "an unknown setting", Settings: map[string]any{"dsn": dsn, "url": "postgres://appi"}},
	}
}

// sourceCanaries are the personal data of the source fixture.
func sourceCanaries() []string {
	before, after := acceptanceRows()
	var out []string
	for _, r := range append(before, after...) {
		out = append(out, r.Nom, r.DateNaissance)
		out = append(out, strings.Fields(r.Prenoms)...)
		for _, s := range []*string{r.JAP, r.Observations} {
			if s != nil && *s != "" {
				out = append(out, *s)
			}
		}
	}
	return out
}

func TestTheAPPISourcePassesTheAcceptanceSuite(t *testing.T) {
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: Spec,
		Start: func(t *testing.T) connectortest.System {
			_, sys := startAcceptanceAPPI(t, true)
			return sys
		},
		BadSettings: badSettings(t),
		Canaries:    sourceCanaries(),
		Golden:      filepath.Join("testdata", "acceptance.golden.json"),
		Update:      *update,
	})
}

func TestTheAPPISinkPassesTheAcceptanceSuite(t *testing.T) {
	msgs := append(exampleMessages(t, "case-transfer"), exampleMessages(t, "report")...)
	var canaries []string
	for _, m := range msgs {
		p, err := m.Payload()
		require.NoError(t, err)
		var person canonical.Person
		switch v := p.(type) {
		case *canonical.CaseTransfer:
			person = v.Person
		case *canonical.Report:
			person = v.Person
			canaries = append(canaries, v.ValidatedBy)
		}
		canaries = append(canaries, person.LastName, string(person.BirthDate))
		canaries = append(canaries, person.FirstNames...)
	}
	connectortest.RunSink(t, connectortest.SinkHarness{
		Spec: Spec,
		Start: func(t *testing.T) connectortest.SinkSystem {
			db, sys := startAcceptanceAPPI(t, false)
			sys.Settings["poll"] = false
			return connectortest.SinkSystem{System: sys, Records: func() int {
				c, err := db.Count(context.Background())
				require.NoError(t, err)
				return c.Dessaisissements + c.Rapports
			}}
		},
		BadSettings: badSettings(t),
		Messages:    msgs,
		Canaries:    canaries,
	})
}
