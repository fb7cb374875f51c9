package pipeline_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"passerelle/canonical"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/bus"
	"passerelle/pipeline/store"
)

// The relay reads the outbox from its cursor, after the rows it published: a row whose
// seq was taken before another's and that commits after it (a straggler) goes out as
// soon as it commits, and a row sent back below the cursor (a replay, a reconciliation)
// is found by the rescan from the first row: with a rescan of an hour it waits, with
// one of 200 ms it goes out.
func TestTheRelayFindsARowCommittedOutOfSeqOrder(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, pgtest.NewDatabase(t), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	emb, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{Addr: "127.0.0.1:0", Partitions: 1})
	require.NoError(t, err)
	defer emb.Close()
	require.NoError(t, bus.EnsureTopics(ctx, emb.Addrs(), bus.Topics("t."), 1, 1))
	pub, err := bus.NewPublisher(bus.PublisherConfig{Brokers: emb.Addrs()})
	require.NoError(t, err)
	defer func() { require.NoError(t, pub.Close()) }()

	ref := 0
	ingest := func(db store.Beginner) uuid.UUID {
		ref++
		m := &canonical.Message{SpecVersion: "1.0", ID: uuid.NewString(), Source: "/connectors/test",
			Type: canonical.TypeMeasure, Time: time.Now(), Subject: uuid.NewString(), DataContentType: "application/json",
			FactSystem: "APPI", FactRef: "mesure/" + strconv.Itoa(ref), FactVersion: 1, Data: json.RawMessage(`{}`)}
		_, err := st.Ingest(ctx, db, store.IngestBatch{Connector: "test", Messages: []*canonical.Message{m}})
		require.NoError(t, err)
		return uuid.MustParse(m.ID)
	}
	published := func(id uuid.UUID) bool {
		var ok bool
		require.NoError(t, st.Pool().QueryRow(ctx, `SELECT s.published_at IS NOT NULL FROM outbox o
			JOIN outbox_state s ON s.seq = o.seq WHERE o.id = $1`, id).Scan(&ok))
		return ok
	}
	relay := func(rescan time.Duration) (stop func()) {
		runCtx, cancel := context.WithCancel(ctx)
		r := &pipeline.Relay{Store: st, Publisher: pub, TopicPrefix: "t.", Log: zaptest.NewLogger(t), Rescan: rescan}
		var wg sync.WaitGroup
		wg.Go(func() { _ = r.Run(runCtx) })
		return func() { cancel(); wg.Wait() }
	}
	// straggle writes what a transaction that took its seq before another's and
	// committed after it leaves (ingests wait for each other's audit lock, so the later
	// seq often commits first): a seq taken, a later row ingested and published, then
	// a row with the first seq.
	straggle := func() uuid.UUID {
		var seq int64
		require.NoError(t, st.Pool().QueryRow(ctx, `SELECT nextval('outbox_seq_seq')`).Scan(&seq))
		next := ingest(st.Pool())
		require.Eventually(t, func() bool { return published(next) }, 10*time.Second, 10*time.Millisecond)
		late := uuid.New()
		require.NoError(t, pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO outbox (seq, id, type, subject, source, dataschema, connector,
				fact_system, fact_ref, fact_version, event_time, data, content_hash, accepted_at)
				SELECT $1, $2, type, subject, source, dataschema, connector, fact_system, fact_ref || '-late',
				fact_version, event_time, data, content_hash, accepted_at FROM outbox WHERE id = $3`, seq, late, next); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO outbox_state (seq) VALUES ($1)`, seq)
			return err
		}))
		return late
	}

	sendBack := func(id uuid.UUID) {
		_, err := st.Pool().Exec(ctx, `UPDATE outbox_state s SET published_at = NULL FROM outbox o
			WHERE o.seq = s.seq AND o.id = $1`, id)
		require.NoError(t, err)
	}

	stop := relay(time.Hour)
	first := ingest(st.Pool())
	require.Eventually(t, func() bool { return published(first) }, 10*time.Second, 10*time.Millisecond)
	late := straggle()
	assert.Eventually(t, func() bool { return published(late) }, 5*time.Second, 10*time.Millisecond,
		"the cursor waits before the seq it has not seen, without the rescan")
	sendBack(first)
	time.Sleep(time.Second)
	assert.False(t, published(first), "below the cursor: only the rescan reads there")
	stop()

	stop = relay(200 * time.Millisecond)
	defer stop()
	next := ingest(st.Pool())
	require.Eventually(t, func() bool { return published(next) && published(first) }, 10*time.Second, 10*time.Millisecond)
	sendBack(first)
	assert.Eventually(t, func() bool { return published(first) }, 10*time.Second, 10*time.Millisecond,
		"the rescan finds a row sent back")
	var unpublished int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox_state WHERE published_at IS NULL`).Scan(&unpublished))
	assert.Zero(t, unpublished)
}
