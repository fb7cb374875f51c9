package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors/builtin"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/console"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// The person the console tests look for, and two others.
const (
	ecrou    = "24-0655"
	etab     = "0310301"
	appiFile = "2019000877"
	parquet  = "24019988776"
	password = "correct horse battery"
)

type rig struct {
	t    *testing.T
	run  *pipeline.Running
	dest *pipelinetest.Destination
	file string
	base string // http://addr/console/
	stop func()
	// lines written so far
	lines int
}

// measureLine is version v of measure number of person p (0 is the one looked for).
func measureLine(t *testing.T, p int, number string, v int64, kind canonical.MeasureKind, status canonical.MeasureStatus, start, end string) []byte {
	t.Helper()
	return personMeasureLine(t, personOf(p), number, v, kind, status, start, end)
}

// personOf is person p of the tests (0 is the one looked for).
func personOf(p int) canonical.Person {
	person := canonical.Person{LastName: fmt.Sprintf("MARTIN%d", p), FirstNames: []string{"Léa"}, BirthDate: "1985-09-11",
		Identifiers: canonical.Identifiers{AppiFileNumber: fmt.Sprintf("20190%05d", p)}}
	if p == 0 {
		person.LastName = "BENALI"
		person.FirstNames = []string{"Yasmina"}
		person.Identifiers = canonical.Identifiers{CommittalNumber: ecrou, EstablishmentCode: etab, AppiFileNumber: appiFile,
			ProsecutionNumbers: []string{parquet}}
	}
	return person
}

// personMeasureLine is version v of measure number of person.
func personMeasureLine(t *testing.T, person canonical.Person, number string, v int64, kind canonical.MeasureKind, status canonical.MeasureStatus, start, end string) []byte {
	t.Helper()
	data := canonical.Measure{Version: v, MeasureNumber: number, Kind: kind, Court: "TJ TOULOUSE", SPIPOffice: "SPIP 31 - antenne Toulouse",
		DecisionDate: "2023-01-10", StartDate: canonical.Date(start), EndDate: canonical.Date(end),
		Obligations: []canonical.Obligation{}, Status: status, Person: person}
	fact := canonical.FactID{System: canonical.SystemAPPI, Ref: canonical.APPIMeasureRef(number), Version: v}
	m, err := canonical.NewMessage(canonical.TypeMeasure, "/connectors/appi", "", fact, time.Date(2024, 4, int(v%28)+1, 9, 0, 0, 0, time.UTC), data)
	require.NoError(t, err)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// startRig runs a hub with the console over a file of measures, with two console
// accounts: alice (operator) and greffe (clerk).
func startRig(t *testing.T) *rig {
	t.Helper()
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "measures.jsonl")
	lines := [][]byte{
		measureLine(t, 0, "M-31-2019-000101", 3, canonical.MeasureSP, "TERMINEE", "2019-05-01", "2021-05-01"),
		measureLine(t, 0, "M-31-2024-007120", 5, canonical.MeasureDDSE, "EN_COURS", "2024-07-22", "2099-01-21"),
		measureLine(t, 0, "M-31-2098-000001", 1, canonical.MeasureTIG, "A_PRENDRE_EN_CHARGE", "2098-01-01", ""),
		measureLine(t, 1, "M-31-2024-000201", 2, canonical.MeasureSP, "EN_COURS", "2024-01-01", ""),
		measureLine(t, 2, "M-31-2024-000202", 2, canonical.MeasureLSC, "EN_COURS", "2024-01-01", ""),
	}
	require.NoError(t, os.WriteFile(file, pipelinetest.JoinLines(lines), 0o600))
	accounts := filepath.Join(dir, "accounts")
	alice, err := console.AccountLine("alice", password, console.RoleOperator)
	require.NoError(t, err)
	greffe, err := console.AccountLine("greffe", password, console.RoleClerk)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(accounts, []byte("# test accounts\n"+alice+"\n"+greffe+"\n"), 0o600))

	dest := pipelinetest.NewDestination(1)
	t.Cleanup(dest.Close)
	yaml := fmt.Sprintf(`
log: {format: console, level: warn}
database: {url: %q}
kafka: {partitions: 2, sessionTimeout: 2s, heartbeatInterval: 500ms}
http: {listen: "127.0.0.1:0"}
delivery: {backoffMin: 20ms, backoffMax: 200ms, timeout: 1s}
console: {accounts: %q}
connectors:
  appi-export: {kind: jsonl, path: %q}
  archive: {kind: webhook, url: %q, recipient: other, timeout: 1s}
routes:
  - name: measures-to-archive
    types: [measure]
    destination: archive
    legalBasis: {reference: "Code pénitentiaire, art. R113-49", purpose: "console test"}
    allow:
      measure: [version, measureNumber, status, kind]
`, db, accounts, file, dest.URL())
	cfg, err := config.Read(strings.NewReader(yaml), func(string) string { return "" })
	require.NoError(t, err)
	instances, ps := builtin.Default().Instantiate(cfg, zap.NewNop())
	require.Empty(t, ps)
	la, err := console.LoadAccounts(cfg.Console.Accounts)
	require.NoError(t, err)
	con, err := console.New(console.Options{Auth: la, Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan *pipeline.Running, 1)
	hub := &pipeline.Hub{Config: cfg, Instances: instances, Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		OnReady: func(r *pipeline.Running) { ready <- r }, Mount: con.Mount}
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	r := &rig{t: t, dest: dest, file: file, lines: len(lines)}
	r.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hub: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the hub did not stop within 30 s")
		}
	}
	t.Cleanup(r.stop)
	select {
	case r.run = <-ready:
	case err := <-done:
		t.Fatalf("hub stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("hub did not start")
	}
	r.base = "http://" + r.run.HTTPAddr + console.Prefix
	r.waitDelivered(len(lines))
	return r
}

func (r *rig) waitFor(what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDelivered waits until the destination applied n deliveries and the hub recorded
// every outcome: a destination applies a delivery before the hub writes its status, and
// the pages read the status (seen in CI: a correction still listed as owed).
func (r *rig) waitDelivered(n int) {
	r.t.Helper()
	r.waitFor(fmt.Sprintf("%d deliveries, recorded", n), func() bool {
		if len(r.dest.Applied()) < n {
			return false
		}
		var pending int
		err := r.run.Store.Pool().QueryRow(r.t.Context(), `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pending)
		return err == nil && pending == 0
	})
}

// appendLine appends a line to the source's file.
func (r *rig) appendLine(line []byte) {
	r.t.Helper()
	f, err := os.OpenFile(r.file, os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(r.t, err)
	_, err = f.Write(append(line, '\n'))
	require.NoError(r.t, err)
	require.NoError(r.t, f.Close())
}

// quarantineOne appends a new version of the person's current measure while the
// destination refuses everything, and waits for it to be quarantined.
func (r *rig) quarantineOne() store.QuarantineItem {
	r.t.Helper()
	return r.quarantineVersion(6)
}

// quarantineVersion appends version v of the person's current measure while the
// destination refuses everything, and waits for it to be quarantined.
func (r *rig) quarantineVersion(v int64) store.QuarantineItem {
	r.t.Helper()
	r.dest.SetFaults(pipelinetest.Faults{Refuse422: 1})
	r.appendLine(measureLine(r.t, 0, "M-31-2024-007120", v, canonical.MeasureDDSE, "SUSPENDUE", "2024-07-22", "2099-01-21"))
	var item store.QuarantineItem
	r.waitFor("the new version quarantined", func() bool {
		items, err := r.run.Store.ListQuarantine(r.t.Context(), store.QuarantineFilter{Stage: "deliver"})
		if err != nil || len(items) == 0 {
			return false
		}
		item = items[0]
		return true
	})
	r.dest.SetFaults(pipelinetest.Faults{})
	return item
}
