package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

// seedPerson records a person known by her APPI file and her name key, with one
// measure delivered to the archive, and returns her person id and the message.
func seedPerson(t *testing.T, st *store.Store) (string, *canonical.Message) {
	t.Helper()
	ctx := t.Context()
	key := pipeline.PersonKey("DUPONT", []string{"Jeanne"}, "1990-01-01")
	ids, err := st.ResolvePersons(ctx, [][]store.Identifier{{{System: pipeline.IDAppi, Value: "202300000001"}, {System: pipeline.IDPersonKey, Value: key}}})
	require.NoError(t, err)
	m := &canonical.Message{SpecVersion: "1.0", ID: uuid.NewString(), Source: "/connectors/appi-export", Type: "fr.justice.measure.v1",
		Time: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), Subject: ids[0], DataSchema: "urn:passerelle:schema:measure:v1",
		DataContentType: "application/json", FactSystem: "APPI", FactRef: "mesure/1", FactVersion: 1,
		Data: json.RawMessage(`{"measureNumber":"M-1","person":{"lastName":"DUPONT"}}`)}
	_, err = st.Ingest(ctx, st.Pool(), store.IngestBatch{Connector: "appi-export", Messages: []*canonical.Message{m},
		Targets: func(string) []store.Target {
			return []store.Target{{Route: "measures-to-archive", Destination: "archive", LegalBasis: "Test — operator commands"}}
		}})
	require.NoError(t, err)
	recorded, err := st.RecordDeliveries(ctx, []store.DeliveryOutcome{{MessageID: uuid.MustParse(m.ID), Destination: "archive",
		Route: "measures-to-archive", LegalBasis: "Test — operator commands", Status: store.StatusDelivered, Attempts: 1, ReceiptRef: "R-77"}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, recorded)
	return ids[0], m
}

func TestSubjectExportCommand(t *testing.T) {
	cfg, db := opsConfig(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	person, m := seedPerson(t, st)
	t.Setenv("PASSERELLE_OPERATOR", "alice")

	t.Run("by identifier, as JSON: the fact, its destination, legal basis and receipt", func(t *testing.T) {
		r := runCLI(t, nil, "subject", "export", "--id", "APPI:202300000001", "--format", "json", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		var exp store.SubjectExport
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &exp))
		assert.Equal(t, []string{person}, exp.Persons)
		require.Len(t, exp.Facts, 1)
		assert.Equal(t, m.ID, exp.Facts[0].MessageID.String())
		require.Len(t, exp.Facts[0].Deliveries, 1)
		d := exp.Facts[0].Deliveries[0]
		assert.Equal(t, "archive", d.Destination)
		assert.Equal(t, "delivered", d.Status)
		assert.Equal(t, "Test — operator commands", d.LegalBasis)
		assert.Equal(t, "R-77", d.ReceiptRef)
	})
	t.Run("by exact name and birth date, as a readable report", func(t *testing.T) {
		r := runCLI(t, nil, "subject", "export", "--name", "Dupont", "--first-names", "Jeanne", "--birth-date", "1990-01-01", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "1 facts, 1 deliveries")
		assert.Contains(t, r.stdout, "fr.justice.measure.v1: APPI mesure/1, version 1")
		assert.Contains(t, r.stdout, "-> archive (route measures-to-archive): delivered on")
		assert.Contains(t, r.stdout, "receipt R-77")
		assert.Contains(t, r.stdout, "legal basis: Test — operator commands")
		assert.NotContains(t, r.stdout, "DUPONT", "data only with --with-data")
		r = runCLI(t, nil, "subject", "export", "--person", person, "--with-data", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `"lastName":"DUPONT"`)
	})
	t.Run("an unknown person exits 1, and is audited too", func(t *testing.T) {
		r := runCLI(t, nil, "subject", "export", "--id", "PRISME:nobody", "-c", cfg)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stdout, "No person is known")
	})
	t.Run("the person is named one way", func(t *testing.T) {
		for _, args := range [][]string{{}, {"--id", "APPI:1", "--person", "x"}, {"--id", "NIR:1"}, {"--name", "X"}, {"--name", "X", "--birth-date", "01/01/1990"}} {
			r := runCLI(t, nil, append([]string{"subject", "export", "-c", cfg}, args...)...)
			assert.Equal(t, 2, r.code, "%v", args)
		}
	})
	t.Run("every export is audited with the operator, never with the query's data", func(t *testing.T) {
		var n int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'subject-export' AND actor = 'operator:alice'`).Scan(&n))
		assert.Equal(t, 4, n)
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE reference ~ '(DUPONT|Dupont|1990|nobody|202300000001)'`).Scan(&n))
		assert.Zero(t, n)
	})
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

func TestSubjectRectificationsCommand(t *testing.T) {
	cfg, db := opsConfig(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	person, m := seedPerson(t, st)
	r := runCLI(t, nil, "subject", "rectifications", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "0 correction(s) pending")

	v2 := *m
	v2.ID, v2.FactVersion = uuid.NewString(), 2
	v2.Data = json.RawMessage(`{"measureNumber":"M-1","person":{"lastName":"DUPOND"}}`)
	_, err = st.Ingest(t.Context(), st.Pool(), store.IngestBatch{Connector: "appi-export", Messages: []*canonical.Message{&v2},
		Targets: func(string) []store.Target {
			return []store.Target{{Route: "measures-to-archive", Destination: "archive"}}
		}})
	require.NoError(t, err)
	r = runCLI(t, nil, "subject", "rectifications", "--id", "APPI:202300000001", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, person)
	assert.Contains(t, r.stdout, "APPI:mesure/1")
	assert.Contains(t, r.stdout, "archive")
	assert.Contains(t, r.stdout, "identity")
	assert.Contains(t, r.stdout, "1 correction(s) pending")
	assert.NotContains(t, r.stdout, "DUPOND")
	r = runCLI(t, nil, "subject", "rectifications", "--format", "json", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	var rs []store.Rectification
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rs))
	require.Len(t, rs, 1)
	assert.Equal(t, "pending", rs[0].Status)
	r = runCLI(t, nil, "subject", "rectifications", "--id", "APPI:nobody", "-c", cfg)
	assert.Equal(t, 1, r.code)

	t.Setenv("PASSERELLE_OPERATOR", "alice")
	r = runCLI(t, nil, "subject", "rectifications", "ack", v2.ID, "archive", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI(t, nil, "subject", "rectifications", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "0 correction(s) pending")
	r = runCLI(t, nil, "subject", "rectifications", "ack", v2.ID, "archive", "-c", cfg)
	assert.Equal(t, 1, r.code, "acknowledged once")
	r = runCLI(t, nil, "subject", "rectifications", "ack", "x", "archive", "-c", cfg)
	assert.Equal(t, 2, r.code)
}

func TestSubjectRectifyCommand(t *testing.T) {
	cfg, db := opsConfig(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	raw, err := os.ReadFile("../../schemas/examples/measure/valid/ddse-a-prendre-en-charge.json")
	require.NoError(t, err)
	var m canonical.Message
	require.NoError(t, json.Unmarshal(raw, &m))
	_, err = st.Ingest(t.Context(), st.Pool(), store.IngestBatch{Connector: "appi-export", Messages: []*canonical.Message{&m},
		Targets: func(string) []store.Target {
			return []store.Target{{Route: "measures-to-archive", Destination: "archive"}}
		}})
	require.NoError(t, err)
	recorded, err := st.RecordDeliveries(t.Context(), []store.DeliveryOutcome{{MessageID: uuid.MustParse(m.ID), Destination: "archive",
		Route: "measures-to-archive", Status: store.StatusDelivered, Attempts: 1}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, recorded)
	t.Setenv("PASSERELLE_OPERATOR", "alice")
	dir := t.TempDir()
	write := func(name string, data map[string]any) string {
		b, err := json.Marshal(data)
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	var data map[string]any
	require.NoError(t, json.Unmarshal(m.Data, &data))

	data["startDate"] = "le 3 mars"
	bad := write("bad.json", data)
	r := runCLI(t, nil, "subject", "rectify", "--message", m.ID, "--file", bad, "--reason", "courrier 17", "-c", cfg)
	require.Equal(t, 1, r.code)
	assert.Contains(t, r.err.Error(), "/data/startDate")
	assert.Contains(t, r.err.Error(), "(rule format)")

	data["startDate"] = "2024-07-15"
	good := write("good.json", data)
	for _, args := range [][]string{{"--file", good, "--reason", "x"}, {"--message", "x", "--file", good}, {"--message", m.ID, "--fact", "APPI:x", "--file", good}} {
		r = runCLI(t, nil, append([]string{"subject", "rectify", "-c", cfg}, args...)...)
		assert.Equal(t, 2, r.code, "%v", args)
	}
	r = runCLI(t, nil, "subject", "rectify", "--fact", "APPI:"+m.FactRef, "--file", good, "--reason", "courrier 17", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("version %d (message %s) corrected by version %d", m.FactVersion, m.ID, m.FactVersion+1))
	assert.Contains(t, r.stdout, fmt.Sprintf("archive received version %d: owed the correction", m.FactVersion))
	r = runCLI(t, nil, "subject", "rectifications", "--format", "json", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	var rs []store.Rectification
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rs))
	require.Len(t, rs, 1)
	assert.Equal(t, "pending", rs[0].Status)
	assert.Equal(t, m.FactVersion+1, rs[0].CurrentVersion)
	r = runCLI(t, nil, "subject", "rectify", "--message", m.ID, "--file", good, "--reason", "courrier 17", "-c", cfg)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err.Error(), "rectify the newest")
	var n int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'rectification' AND actor = 'operator:alice'`).Scan(&n))
	assert.Equal(t, 1, n)
}
