// Package pgtest gives each test a fresh PostgreSQL database on a real server: the one
// DATABASE_URL names, or the one scripts/pg-ensure.sh finds or starts (the same script
// `make test` uses), so `go test ./...` works on a fresh machine too. It never skips: a
// test that needs PostgreSQL and cannot get it fails, saying why.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	once    sync.Once
	baseURL string
	baseErr error
	counter atomic.Int64
)

// ServerURL returns the URL of the server the tests use, starting one if needed.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			baseURL = u
			return
		}
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "pg-ensure.sh")
		out, err := exec.CommandContext(context.Background(), script).Output() //nolint:gosec // the repository's own script, at a path derived from this file.
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok { //nolint:errorlint // exec returns *ExitError directly.
				stderr = string(ee.Stderr)
			}
			baseErr = fmt.Errorf("pgtest: %s failed: %w\n%s", script, err, stderr)
			return
		}
		baseURL = strings.TrimSpace(string(out))
	})
	if baseErr != nil {
		tb.Fatal(baseErr)
	}
	return baseURL
}

// NewDatabase creates an empty database for this test and returns its URL; it is
// dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	name := fmt.Sprintf("t_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", redact(base), err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer func() { _ = c.Close(context.Background()) }()
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", redact(base), err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
