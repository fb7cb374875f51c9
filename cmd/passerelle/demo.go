package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	gensim "passerelle/connectors/genesis/sim"
	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/internal/logging"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

// Demo addresses: the ones the contracts' examples use.
const (
	demoGenesisAddr = "127.0.0.1:8081"
	demoPrismeAddr  = "127.0.0.1:8084"
	demoClientID    = "passerelle-demo"
	// demoDatabase holds the hub's state during a demo, on the server DATABASE_URL
	// names; it is dropped and created again at each run.
	demoDatabase = "passerelle_demo"
)

func newDemoCmd() *cobra.Command {
	var cfgPath string
	var every time.Duration
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the hub end to end with the simulators of GENESIS and PRISME",
		Long: `Starts the GENESIS simulator (a prison's week, on ` + demoGenesisAddr + `) and the PRISME
simulator (on ` + demoPrismeAddr + `), then the hub with the demo configuration on the embedded
broker, and prints what to look at. Fiches pénales and custody events flow from GENESIS
to PRISME as the simulated week goes by. Ctrl-C stops everything cleanly.
PRISME_CLIENT_SECRET is the demo client's secret (make demo sets one).`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cfgPath, every, seed)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "config/examples/demo.yaml", "configuration file")
	cmd.Flags().DurationVar(&every, "every", 700*time.Millisecond, "how often the prison's week moves on by one event")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the simulated week")
	return cmd
}

func runDemo(ctx context.Context, out io.Writer, cfgPath string, every time.Duration, seed uint64) error {
	secret := os.Getenv("PRISME_CLIENT_SECRET")
	if secret == "" {
		return &exitError{code: 2, msg: "demo: set PRISME_CLIENT_SECRET (make demo does)"}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The systems around the hub.
	gen := gensim.New(gensim.Options{Seed: seed})
	week := gensim.NewGenerator(gensim.GeneratorOptions{Seed: seed})
	if err := week.Populate(gen.State()); err != nil {
		return err
	}
	prisme := prismesim.New(prismesim.Options{Seed: seed, Clients: []prismesim.Client{
		{ID: demoClientID, Secret: secret, Scopes: []string{prismesim.ScopeEcriture, prismesim.ScopeLecture}},
	}})
	var wg sync.WaitGroup
	stopServers := []func(){}
	for _, s := range []struct {
		name, addr string
		h          http.Handler
	}{{"GENESIS", demoGenesisAddr, gen.Handler()}, {"PRISME", demoPrismeAddr, prisme.Handler()}} {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.addr)
		if err != nil {
			return fmt.Errorf("demo: the %s simulator cannot listen on %s: %w", s.name, s.addr, err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
		wg.Go(func() { _ = srv.Serve(ln) })
		stopServers = append(stopServers, func() { _ = srv.Close() })
	}
	defer func() {
		for _, stop := range stopServers {
			stop()
		}
		wg.Wait()
	}()
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = week.Next(gen.State())
			}
		}
	})

	cfg, instances, err := build(cfgPath)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	// The simulators start empty at each run: so does the hub's state, in a database
	// of its own, or the checkpoints of the last run would skip the new week.
	dbURL, err := freshDatabase(ctx, cfg.Database.URL, demoDatabase)
	if err != nil {
		return err
	}
	cfg.Database.URL = dbURL
	log, err := logging.New(cfg.Log.Format, "warn", os.Stderr)
	if err != nil {
		return err
	}
	hub := &pipeline.Hub{Config: cfg, Instances: instances, Log: log, OnReady: func(r *pipeline.Running) {
		tour(out, cfgPath, dbURL, r.HTTPAddr)
		wg.Go(func() { progress(ctx, out, gen, prisme, r.Store) })
	}}
	err = hub.Run(ctx)
	cancel()
	_, _ = fmt.Fprintln(out, "\ndemo stopped.")
	return err
}

func tour(out io.Writer, cfgPath, dbURL, hubAddr string) {
	_, _ = fmt.Fprintf(out, `
Passerelle demo — a prison's week flowing from GENESIS to PRISME.

  GENESIS simulator  http://%[1]s/genesis/ws/fichepenale?wsdl   (SOAP, polled by the hub)
  PRISME simulator   http://%[2]s/_sim/current/fiches-penales   (what PRISME holds now)
                     http://%[2]s/_sim/requests                 (every request, in order)
                     http://%[2]s/_sim/stats
  hub                http://%[3]s/readyz

Try, in another terminal:
  curl -s http://%[2]s/_sim/current/fiches-penales | head -c 600; echo
  export DATABASE_URL='%[5]s'
  ./bin/passerelle quarantine list -c %[4]s      # inputs the hub could not take, and why
  ./bin/passerelle audit verify -c %[4]s         # the hash chain of every transmission
  ./bin/passerelle validate schemas/examples/penal-record/invalid/*.json

Ctrl-C stops the demo (its database, %[6]s, is recreated at each run).

`, demoGenesisAddr, demoPrismeAddr, hubAddr, cfgPath, dbURL, demoDatabase)
}

// progress prints one line every few seconds: what GENESIS produced, what PRISME holds,
// and what the hub has in flight or in quarantine.
func progress(ctx context.Context, out io.Writer, gen *gensim.Server, prisme *prismesim.Server, st *store.Store) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stats := prisme.Stats()
		b, err := st.Backlog(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return
			}
			continue
		}
		var quarantined int64
		_ = st.Pool().QueryRow(ctx, `SELECT count(*) FROM quarantine WHERE status = 'open'`).Scan(&quarantined)
		_, _ = fmt.Fprintf(out, "%s  GENESIS movements %4d │ PRISME fiches %4d, custody events %4d, dossiers %4d │ hub in flight %3d, quarantined %d\n",
			time.Now().Format("15:04:05"), gen.State().LastSequence(), stats.Current[prismesim.FichePenale],
			stats.Current[prismesim.EvenementDetention], stats.Dossiers, b.Unsettled, quarantined)
	}
}

// freshDatabase drops and creates the database name on the server of baseURL, and
// returns its URL.
func freshDatabase(ctx context.Context, baseURL, name string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("demo: database url: %w", err)
	}
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return "", fmt.Errorf("demo: connect to PostgreSQL at %s: %w", u.Redacted(), err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	ident := pgx.Identifier{name}.Sanitize()
	for _, q := range []string{"DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)", "CREATE DATABASE " + ident} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("demo: %s: %w", q, err)
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}
