package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"passerelle/config"
	appisim "passerelle/connectors/appi/sim"
	cassiopeesim "passerelle/connectors/cassiopee/sim"
	gensim "passerelle/connectors/genesis/sim"
	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/internal/logging"
	"passerelle/internal/tick"
	"passerelle/pipeline"
	"passerelle/pipeline/console"
	"passerelle/pipeline/store"
)

// Demo addresses: the ones the contracts' examples use.
const (
	demoGenesisAddr = "127.0.0.1:8081"
	demoPrismeAddr  = "127.0.0.1:8084"
	demoClientID    = "passerelle-demo"
	demoIntakeAddr  = "127.0.0.1:8443"
	// demoDatabase holds the hub's state during a demo, on the server DATABASE_URL
	// names, and demoAPPIDatabase APPI's interface tables; both are dropped and created
	// again at each run.
	demoDatabase     = "passerelle_demo"
	demoAPPIDatabase = "passerelle_demo_appi"
	// demoDir holds what the demo writes: certificates, console accounts (git-ignored).
	demoDir = ".demo"
)

func newDemoCmd() *cobra.Command {
	var cfgPath string
	var every time.Duration
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the hub end to end with the simulators of GENESIS, Cassiopée, APPI and PRISME",
		Long: `Starts the four systems' simulators — GENESIS (a prison's week, SOAP on ` + demoGenesisAddr + `),
PRISME (REST and OAuth2 on ` + demoPrismeAddr + `), APPI (its interface tables in a database of
the demo's PostgreSQL) and a Cassiopée clerk's workstation pushing judgments over TLS
with its court's certificate — then the hub with the demo configuration on the embedded
broker and its web console, and prints what to look at. Ctrl-C stops everything.
The hub's state and APPI's tables live in databases of their own on the server
DATABASE_URL names, recreated at each run. Certificates and console accounts are
written in the git-ignored .demo/ folder. PRISME_CLIENT_SECRET is the demo client's
secret (make demo draws one).`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cfgPath, every, seed)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "config/examples/demo.yaml", "configuration file")
	cmd.Flags().DurationVar(&every, "every", 700*time.Millisecond, "how often the prison's week moves on by one event")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the simulated day")
	return cmd
}

// demoAccount is a console account the demo creates, with its password.
type demoAccount struct{ name, password, role string }

func runDemo(ctx context.Context, out io.Writer, cfgPath string, every time.Duration, seed uint64) error {
	secret := os.Getenv("PRISME_CLIENT_SECRET")
	if secret == "" {
		return &exitError{code: 2, msg: "demo: set PRISME_CLIENT_SECRET (make demo does)"}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base, err := config.Load(cfgPath)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	// The simulators start empty at each run: so do the hub's state and APPI's tables,
	// in databases of their own, or the checkpoints of the last run would skip the new
	// day and APPI would already hold its transfers.
	dbURL, err := freshDatabase(ctx, base.Database.URL, demoDatabase)
	if err != nil {
		return err
	}
	if _, err := freshDatabase(ctx, base.Database.URL, demoAPPIDatabase); err != nil {
		return err
	}

	// The systems around the hub.
	gen := gensim.New(gensim.Options{Seed: seed})
	week := gensim.NewGenerator(gensim.GeneratorOptions{Seed: seed})
	if err := week.Populate(gen.State()); err != nil {
		return err
	}
	prisme := prismesim.New(prismesim.Options{Seed: seed, Clients: []prismesim.Client{
		{ID: demoClientID, Secret: secret, Scopes: []string{prismesim.ScopeEcriture, prismesim.ScopeLecture}},
	}})
	if _, err := prisme.GenerateEvents(6); err != nil {
		return err
	}
	// A few of the faults real systems have, so that the console has something to
	// show: fiches GENESIS does not know (quarantined, with the reason), GENESIS and
	// PRISME busy now and then (retried, never lost).
	if err := gen.Faults().Set(gensim.Fault{UnknownFicheFraction: 0.03, UnavailableFraction: 0.02}); err != nil {
		return err
	}
	if err := prisme.Faults().FailFraction(prismesim.EndpointFichesPenales, 0.05, http.StatusServiceUnavailable, time.Second); err != nil {
		return err
	}
	appi, err := appisim.StartDemo(ctx, base.Database.URL, appisim.DemoOptions{Database: demoAPPIDatabase, Seed: seed, Homonyms: 2})
	if err != nil {
		return err
	}
	if err := os.Setenv("APPI_DSN", appi.URL); err != nil {
		return err
	}
	certs, err := cassiopeesim.GenerateCerts(filepath.Join(demoDir, "cassiopee"), cassiopeesim.Courts)
	if err != nil {
		return err
	}
	accounts, err := writeDemoAccounts(filepath.Join(demoDir, "console-accounts"))
	if err != nil {
		return err
	}

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
		cancel()
		for _, stop := range stopServers {
			stop()
		}
		wg.Wait()
		_ = appi.Wait()
	}()
	wg.Go(func() {
		tick.Every(ctx, every, func(context.Context) { _, _ = week.Next(gen.State()) })
	})
	wg.Go(func() { _ = prisme.RunGenerator(ctx, 15*every) })

	b, err := build(cfgPath)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	cfg, instances := b.cfg, b.instances
	cfg.Database.URL = dbURL
	log, err := logging.New(cfg.Log.Format, "warn", os.Stderr)
	if err != nil {
		return err
	}
	hub := &pipeline.Hub{Config: cfg, Instances: instances, Log: log}
	if hub.Mount, err = consoleMount(cfg, log); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	var mu sync.Mutex // one writer of the terminal at a time
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = fmt.Fprintf(out, format, args...)
	}
	hub.OnReady = func(r *pipeline.Running) {
		say("%s", tour(cfgPath, dbURL, r.HTTPAddr, certs, accounts))
		wg.Go(func() { progress(ctx, say, gen, prisme, appi.DB, r.Store) })
		wg.Go(func() {
			_ = cassiopeesim.Run(ctx, cassiopeesim.RunOptions{URL: "https://" + demoIntakeAddr, Certs: certs,
				Interval: 6 * every, Seed: seed, Report: func(line string) { say("%s  greffe: %s\n", time.Now().Format("15:04:05"), line) }})
		})
	}
	err = hub.Run(ctx)
	cancel()
	say("\ndemo stopped.\n")
	return err
}

// writeDemoAccounts writes the console's account file with an operator and a court
// clerk, each with a password drawn now, and returns them for the tour.
func writeDemoAccounts(path string) ([]demoAccount, error) {
	accounts := []demoAccount{{"operateur", randomPassword(), console.RoleOperator}, {"greffe", randomPassword(), console.RoleClerk}}
	var b strings.Builder
	for _, a := range accounts {
		line, err := console.AccountLine(a.name, a.password, a.role)
		if err != nil {
			return nil, err
		}
		b.WriteString(line + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return accounts, nil
}

func randomPassword() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tour(cfgPath, dbURL, hubAddr string, certs *cassiopeesim.CertSet, accounts []demoAccount) string {
	court := cassiopeesim.Courts[0].Code
	kp := certs.Courts[court]
	return fmt.Sprintf(`
Passerelle demo — a day of a prison, a court and a SPIP, flowing between GENESIS,
Cassiopée, APPI and PRISME through the hub.

  Console   http://%[3]s/console/
            sign in as %[6]s / %[7]s (operator) or %[8]s / %[9]s (court clerk: receipts only)
            · Routes: live counts; pause genesis-to-prisme, watch pending grow, resume: it drains, once.
            · Journal: pick "Numéro d'écrou" and type one that PRISME holds (first curl
              below): that person's measures (past, current, upcoming) and every fact
              across systems, green delivered, amber pending, red quarantined.
            · Quarantine: what the hub could not take, and why; Replay.
            · Identities: two APPI files with the same name and birth date; the hub kept
              them apart: compare their journals, then decide one person or two.
  GENESIS   http://%[1]s/genesis/ws/fichepenale?wsdl   (SOAP, polled by the hub)
  PRISME    http://%[2]s/_sim/current/fiches-penales   (what PRISME holds now; also decisions, mesures)
            http://%[2]s/_sim/requests                 (every request, in order)
  APPI      its tables in the database %[10]s: case transfers and reports from PRISME
  Cassiopée a clerk of court %[11]s pushes judgments to https://%[12]s (lines "greffe:" below)

Try, in another terminal:
  curl -s http://%[2]s/_sim/current/fiches-penales | head -c 600; echo
  # as a court clerk, with the court's certificate: the answer is a receipt, then ask for it
  curl -s --cacert %[13]s --cert %[14]s --key %[15]s -H 'Content-Type: application/json' \
    --data-binary @connectors/cassiopee/testdata/contract/sursis-probatoire.json https://%[12]s/cassiopee/v3/decisions
  curl -s --cacert %[13]s --cert %[14]s --key %[15]s https://%[12]s/cassiopee/v3/receipts/RECEIPT_ID
  curl -s http://%[3]s/metrics | grep ^passerelle_ | head
  # the operator commands read the demo's configuration, with its secrets (demo ones):
  export DATABASE_URL='%[5]s' APPI_DSN='%[17]s' PRISME_CLIENT_SECRET='%[18]s'
  ./bin/passerelle routes list -c %[4]s
  ./bin/passerelle reconcile --from appi --to prisme -c %[4]s   # fact by fact: nothing lost?
  ./bin/passerelle quarantine list -c %[4]s
  ./bin/passerelle audit verify -c %[4]s
  ./bin/passerelle validate schemas/examples/penal-record/invalid/*.json

Ctrl-C stops the demo (its databases, %[16]s and %[10]s, are recreated at each run).

`, demoGenesisAddr, demoPrismeAddr, hubAddr, cfgPath, dbURL, accounts[0].name, accounts[0].password,
		accounts[1].name, accounts[1].password, demoAPPIDatabase, court, demoIntakeAddr, certs.CAFile, kp.Cert, kp.Key, demoDatabase,
		os.Getenv("APPI_DSN"), os.Getenv("PRISME_CLIENT_SECRET"))
}

// progress prints one line every few seconds: what the systems hold and what the hub
// has in flight or in quarantine.
func progress(ctx context.Context, say func(string, ...any), gen *gensim.Server, prisme *prismesim.Server, appi *appisim.DB, st *store.Store) {
	tick.Every(ctx, 5*time.Second, func(ctx context.Context) {
		stats := prisme.Stats()
		b, err := st.Backlog(ctx)
		if err != nil {
			return // the next tick tries again; a stopping demo has no line to print
		}
		a, _ := appi.Count(ctx)
		var quarantined int64
		_ = st.Pool().QueryRow(ctx, `SELECT count(*) FROM quarantine WHERE status = 'open'`).Scan(&quarantined)
		say("%s  GENESIS movements %4d │ PRISME fiches %4d, custody events %4d, decisions %3d, measures %4d │ APPI transfers %3d, reports %3d │ hub in flight %3d, quarantined %d\n",
			time.Now().Format("15:04:05"), gen.State().LastSequence(), stats.Current[prismesim.FichePenale],
			stats.Current[prismesim.EvenementDetention], stats.Current[prismesim.Decision], stats.Current[prismesim.Mesure],
			a.Dessaisissements, a.Rapports, b.Unsettled, quarantined)
	})
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
