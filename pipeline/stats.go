package pipeline

import (
	"context"
	"time"

	"go.uber.org/zap"

	"passerelle/internal/tick"
	"passerelle/pipeline/store"
)

// StatsJob keeps the planner's statistics of the spine's tables up to date while they
// are young (store.RefreshPlannerStats): a hub that starts on a new database and takes
// in a backfill at once would otherwise be planned on the statistics of empty tables
// for its first minutes. Every hub process schedules it; a database lock keeps two
// from analysing at once.
type StatsJob struct {
	Store *store.Store
	// Every is the time between checks. Default 2s: a young table doubles quickly
	// (in a backfill, from 10,000 rows to 20,000 in a few seconds), and a check that
	// finds nothing to do is one catalog query.
	Every time.Duration
	Log   *zap.Logger
}

// Run checks until ctx ends. A failure is logged and tried again at the next tick:
// statistics late make plans slower, never results different.
func (j *StatsJob) Run(ctx context.Context) {
	every := j.Every
	if every <= 0 {
		every = 2 * time.Second
	}
	tick.Every(ctx, every, func(ctx context.Context) {
		analysed, err := j.Store.RefreshPlannerStats(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			j.Log.Warn("planner statistics not refreshed", zap.Error(err))
		case len(analysed) > 0:
			j.Log.Debug("planner statistics refreshed", zap.Strings("tables", analysed))
		}
	})
}
