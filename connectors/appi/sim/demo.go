package sim

import (
	"context"
	"fmt"
	"time"
)

// DemoOptions configure StartDemo. The zero value is usable.
type DemoOptions struct {
	// Database is the database created on the server for APPI's tables, apart from
	// the hub's. Default "appi_demo".
	Database string
	// Backfill is the number of rows written at once when mesures_export is empty
	// (the history the hub finds when it connects). Default 300.
	Backfill int
	// People is the generator's population. Default 120.
	People int
	// Homonyms are the people who share another's name, first names and birth date
	// (GeneratorOptions.Homonyms). Default 0.
	Homonyms int
	// Feed configures the live changes written afterwards (DB.Feed). Defaults: a
	// change every 500ms, one in ten committed 5s late, one seq in fifty lost.
	Feed FeedOptions
	// Seed makes the demo reproducible. Default 1.
	Seed uint64
}

// Demo is a running APPI for `passerelle demo`.
type Demo struct {
	// URL is the database's URL: the connector's dsn (give it through APPI_DSN).
	URL string
	// DB is the interface, to read dessaisissements_entrants and rapports_entrants.
	DB   *DB
	done chan error
}

// StartDemo creates APPI's database on the server serverURL points at (the demo's
// PostgreSQL), its interface tables, a backfill when it is empty, and feeds live
// changes until ctx ends. Wait returns when the feed has stopped, then closes DB.
func StartDemo(ctx context.Context, serverURL string, o DemoOptions) (*Demo, error) {
	if o.Database == "" {
		o.Database = "appi_demo"
	}
	if o.Backfill <= 0 {
		o.Backfill = 300
	}
	if o.People <= 0 {
		o.People = 120
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Feed.Seed == 0 {
		o.Feed.Seed = o.Seed
	}
	u, err := EnsureDatabase(ctx, serverURL, o.Database)
	if err != nil {
		return nil, err
	}
	db, err := Open(ctx, u)
	if err != nil {
		return nil, err
	}
	c, err := db.Count(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	// The backfill ends about now; the live changes are stamped with the time they
	// are written. A database kept from an earlier demo is not backfilled again.
	start := time.Now().Add(-time.Duration(o.Backfill) * 125 * time.Minute) // a change every 125 min on average
	g := NewGenerator(GeneratorOptions{Seed: o.Seed + uint64(c.Mesures), People: o.People, Homonyms: o.Homonyms, Start: start})
	if c.Mesures == 0 {
		if err := db.Insert(ctx, g.Rows(o.Backfill)...); err != nil {
			db.Close()
			return nil, fmt.Errorf("appi sim: demo backfill: %w", err)
		}
	}
	d := &Demo{URL: u, DB: db, done: make(chan error, 1)}
	go func() {
		err := db.Feed(ctx, g, o.Feed)
		db.Close()
		d.done <- err
	}()
	return d, nil
}

// Wait waits for the feed to stop (ctx of StartDemo ended) and returns its error.
func (d *Demo) Wait() error { return <-d.done }
