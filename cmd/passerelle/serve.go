package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/connectors/builtin"
	"passerelle/internal/logging"
	"passerelle/pipeline"
	"passerelle/pipeline/bus"
	"passerelle/schemas"
)

func newServeCmd() *cobra.Command {
	var cfgPath, cpuProfile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: sources, relay, deliveries and the HTTP server",
		Long: `Runs the hub with the configuration FILE until interrupted (SIGINT, SIGTERM), then
stops within 10 seconds. Several processes may run on the same PostgreSQL and Kafka:
each polling source and the relay run in one of them at a time, and the delivery
consumer groups share the partitions. With no Kafka brokers configured, an embedded
broker is started in this process (in memory: for demos and tests).`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := build(cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			cfg, instances := b.cfg, b.instances
			log, err := logging.New(cfg.Log.Format, cfg.Log.Level, os.Stderr)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			applyMemory(cfg.Memory, os.Getenv, log)
			hub := &pipeline.Hub{Config: cfg, Instances: instances, Log: log}
			if hub.Mount, err = consoleMount(cfg, log); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				defer stop()
			}
			return hub.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	return cmd
}

// applyMemory sets the Go runtime's collector from the configuration (see
// config.Memory.Apply) and logs what it runs with.
func applyMemory(m config.Memory, getenv func(string) string, log *zap.Logger) {
	gc, limit, _ := m.Apply(getenv)
	log.Info("memory budget", zap.String("gcPercent", gc), zap.String("limit", limit))
}

// startCPUProfile profiles the process into file until stop is called.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

func newBrokerCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol broker as its own process",
		Long: `Runs the in-memory Kafka-protocol broker (the one serve starts when no broker is
configured) as a process of its own, so that several hub processes, the demo and the
crash tests can share it and a hub can be killed without losing the broker. It keeps
everything in memory: it is not a production broker.`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, _ = fmt.Fprintf(cmd.ErrOrStderr(), "broker listening on %s\n", addr)
			return bus.RunBroker(cmd.Context(), addr)
		},
	}
	cmd.Flags().StringVar(&addr, "listen", "127.0.0.1:9092", "address to listen on (loopback)")
	return cmd
}

// built is a configuration with its connectors and what the hub compiles from it.
type built struct {
	cfg       *config.Config
	instances map[string]*connectors.Instance
	schemas   *schemas.Registry
	routing   *pipeline.Routing
}

// build loads the configuration, instantiates the connectors and compiles the schemas
// and the routes, reporting every problem at once; the commands use what it compiled.
func build(path string) (*built, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	instances, ps := builtin.Default().Instantiate(cfg, zap.NewNop())
	if len(ps) > 0 {
		return nil, ps.Err()
	}
	reg, routing, err := pipeline.Prepare(cfg, instances)
	if err != nil {
		return nil, err
	}
	return &built{cfg: cfg, instances: instances, schemas: reg, routing: routing}, nil
}
