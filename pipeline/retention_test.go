package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/internal/pgtest"
	"passerelle/pipeline/store"
)

func TestRetentionJob(t *testing.T) {
	st, err := store.Open(t.Context(), pgtest.NewDatabase(t), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	runs := make(chan store.RetentionReport, 4)
	j := &RetentionJob{Store: st, Periods: RetentionPeriods(config.Retention{Payloads: time.Hour, Quarantine: time.Hour, Audit: 3 * 365 * 24 * time.Hour}),
		Every: 20 * time.Millisecond, FirstDelay: time.Millisecond, Log: zap.NewNop(),
		OnRun: func(r store.RetentionReport, err error) {
			if err == nil {
				select {
				case runs <- r:
				default:
				}
			}
		}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	for range 2 {
		select {
		case <-runs:
		case <-time.After(10 * time.Second):
			t.Fatal("retention did not run on schedule")
		}
	}
	cancel()
	require.NoError(t, <-done)
	var n int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'retention' AND actor = $1`, RetentionActor).Scan(&n))
	assert.GreaterOrEqual(t, n, 2, "every run is audited")
}

func TestIdentitySystemsAreTheStoreOnes(t *testing.T) {
	assert.Equal(t, store.NameKeySystem, IDPersonKey, "the store tells a name + birth date match by this system")
	assert.True(t, store.OneIdentifierPerPerson[IDAppi])
	assert.True(t, store.OneIdentifierPerPerson[IDPrisme])
	assert.False(t, store.OneIdentifierPerPerson[IDEcrou], "a person has an écrou number per committal")
}
