package pipeline

import (
	"context"
	"time"

	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/pipeline/store"
)

// RetentionActor is who the audit says applied a scheduled retention run.
const RetentionActor = "hub:retention"

// RetentionJob applies the retention periods on a schedule inside serve: payload bytes
// purged once delivered (or once quarantined long enough), audit rows cut after the
// legal period with the chain anchored first. Every hub process schedules it; a run
// that finds another in progress skips (a database lock), so they never overlap, and
// running it more often than needed purges nothing twice.
type RetentionJob struct {
	Store   *store.Store
	Periods store.Retention
	// Every is the time between runs. Default 1h.
	Every time.Duration
	// FirstDelay is the time before the first run, so that start-up is not slowed
	// by it. Default 1m.
	FirstDelay time.Duration
	Log        *zap.Logger
	// OnRun, when set, is called after each run (tests).
	OnRun func(store.RetentionReport, error)
}

// RetentionPeriods are the store's periods of a configuration.
func RetentionPeriods(c config.Retention) store.Retention {
	return store.Retention{Payloads: c.Payloads, Quarantine: c.Quarantine, Audit: c.Audit}
}

// startRetention schedules retention in serve unless the configuration disables it.
func startRetention(ctx context.Context, goFn func(func()), cfg *config.Config, st *store.Store, log *zap.Logger) {
	if cfg.Retention.Disabled {
		return
	}
	j := &RetentionJob{Store: st, Periods: RetentionPeriods(cfg.Retention), Every: cfg.Retention.Every, Log: log.Named("retention")}
	goFn(func() { _ = j.Run(ctx) })
}

// Run applies retention until ctx ends. A failed run is logged and tried again at the
// next tick: retention late is not data lost.
func (j *RetentionJob) Run(ctx context.Context) error {
	every, first := j.Every, j.FirstDelay
	if every <= 0 {
		every = time.Hour
	}
	if first <= 0 {
		first = time.Minute
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rep, err := j.Store.ApplyRetention(ctx, j.Periods, RetentionActor, false)
		switch {
		case err != nil && ctx.Err() == nil:
			j.Log.Error("retention run failed", zap.Error(err))
		case err == nil && !rep.Skipped:
			j.Log.Info("retention applied", zap.Int64("outbox_payloads", rep.OutboxPayloads+rep.QuarantinedPayloads),
				zap.Int64("receipts", rep.Receipts), zap.Int64("quarantine_bytes", rep.QuarantineBytes),
				zap.Int64("audit_rows", rep.AuditRows), zap.Int64("messages_deleted", rep.Messages))
		}
		if j.OnRun != nil {
			j.OnRun(rep, err)
		}
		t.Reset(every)
	}
}
