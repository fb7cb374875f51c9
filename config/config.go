package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of a Passerelle process.
type Config struct {
	// Log says how the process logs. Default: JSON at level info.
	Log Log `yaml:"log"`
	// Database is the PostgreSQL system of record. Required (the URL may come from the
	// environment).
	Database Database `yaml:"database"`
	// Kafka is the transport. Default: an embedded broker on loopback.
	Kafka Kafka `yaml:"kafka"`
	// HTTP is the server of `passerelle serve` (intake, console, metrics).
	HTTP HTTP `yaml:"http"`
	// Delivery tunes the consumers that deliver to destinations.
	Delivery Delivery `yaml:"delivery"`
	// Memory sets the memory budget of `passerelle serve`, and so how often it
	// collects garbage. Default: 200MiB and 400 with a Kafka cluster, Go's own with
	// the embedded broker.
	Memory Memory `yaml:"memory"`
	// Retention says how long the hub keeps what it moved (data protection). Default:
	// payloads 30 days after delivery, quarantined ones 180 days, audit rows 3 years.
	Retention Retention `yaml:"retention"`
	// Console is the web console of `passerelle serve`. Default: off.
	Console Console `yaml:"console"`
	// Identities says what becomes of the facts of a doubtful match (data protection).
	// Default: they go on under a separate person id.
	Identities Identities `yaml:"identities"`
	// Connectors are the source and sink connectors by instance name; the name is what
	// routes refer to. Each entry's settings are the connector's own.
	Connectors map[string]Connector `yaml:"connectors"`
	// Routes say which canonical types go to which destination, on which legal basis,
	// with which fields.
	Routes []Route `yaml:"routes"`
	// Policies is the reviewed file of field policies (see Policies), relative to the
	// configuration file: when set, it gives every route its fields, and routes name
	// none of their own. Default: none, and each route's allow is its policy.
	Policies string `yaml:"policies"`
}

// Log configures the zap logger.
type Log struct {
	// Format is "json" (production) or "console" (a terminal). Default "json".
	Format string `yaml:"format"`
	// Level is debug, info, warn or error. Default "info".
	Level string `yaml:"level"`
}

// Database configures the PostgreSQL connection pool.
type Database struct {
	// URL is a PostgreSQL connection URL. The environment variable DATABASE_URL
	// overrides it (so that a password never sits in a committed file). Required.
	URL string `yaml:"url"`
	// MaxConns caps the pool. Default 16.
	MaxConns int32 `yaml:"maxConns"`
	// IdentityCache sizes the hub's caches of the person links: how many links
	// (system, identifier → person) one generation of the cache holds, and how many
	// identifiers it remembers as already linked by a destination's receipt (two
	// generations each at most, about 160 and 80 bytes an entry). 0: 262,144 links and
	// 131,072 identifiers (42 and 10 MB at most); negative: no cache, every identifier
	// is looked up in PostgreSQL. A caseload whose active persons outnumber the
	// default looks more of them up: give it more, and raise memory.limit by as much.
	IdentityCache int `yaml:"identityCache"`
	// OutboxCache is how many committed messages one generation of the relay's cache
	// keeps (two generations at most, of 8 MiB of payloads each), so that the relay
	// publishes them without reading them back. 0: 4,096; negative: none.
	OutboxCache int `yaml:"outboxCache"`
}

// Kafka configures the transport.
type Kafka struct {
	// Brokers are the bootstrap brokers of a real cluster. Empty (the default) starts an
	// in-process broker on loopback. PASSERELLE_KAFKA_BROKERS (comma separated)
	// overrides it.
	Brokers []string `yaml:"brokers"`
	// EmbeddedAddr is where the embedded broker listens. Default "127.0.0.1:0" (any
	// free port).
	EmbeddedAddr string `yaml:"embeddedAddr"`
	// TopicPrefix prefixes every topic name. Default "passerelle.".
	TopicPrefix string `yaml:"topicPrefix"`
	// Partitions is the partition count of the topics the hub creates. Default 6.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor of the topics the hub creates. Default 1 with the embedded
	// broker, 3 with a cluster.
	ReplicationFactor int `yaml:"replicationFactor"`
	// SessionTimeout of the delivery consumer groups: how long a dead hub process keeps
	// its partitions before the group gives them to another. Default 10s (the broker
	// may impose a minimum; Kafka's default minimum is 6s).
	SessionTimeout time.Duration `yaml:"sessionTimeout"`
	// HeartbeatInterval of the consumer groups. Default a third of SessionTimeout.
	HeartbeatInterval time.Duration `yaml:"heartbeatInterval"`
	// RebalanceTimeout is how long the group coordinator waits, once a rebalance has
	// begun, for every member it knows to join again. A member that died (a killed hub
	// process) never does: each rebalance it takes part in lasts that long, and no
	// partition is delivered meanwhile. Default 30s (Kafka clients'); shorter where hub
	// processes are often killed, never below sessionTimeout's order.
	RebalanceTimeout time.Duration `yaml:"rebalanceTimeout"`
}

// HTTP configures the HTTP server.
type HTTP struct {
	// Listen is the address of the server. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
}

// Console configures the web console, served under /console/ by the HTTP server.
type Console struct {
	// Accounts is the local account file: one "name:bcrypt-hash[:role]" per line (role
	// operator, the default, or clerk), made with `passerelle console add-account`.
	// Empty (the default) leaves the console off; PASSERELLE_CONSOLE_ACCOUNTS, read by
	// serve, overrides it. Never commit a file that holds real accounts.
	Accounts string `yaml:"accounts"`
	// SessionTTL is how long a sign-in lasts. Default 8h.
	SessionTTL time.Duration `yaml:"sessionTTL"`
}

// Memory is the Go runtime's memory budget for `passerelle serve`. The hub's work
// allocates a lot of short-lived memory (every record is decoded, validated and
// encoded again), and with Go's default the collector runs each time the heap has
// doubled: a sixth of the hub's CPU. A higher GCPercent under a soft Limit collects
// less often while the process stays within the limit. GOGC and GOMEMLIMIT in the
// environment win over both, as for any Go program.
//
// With the embedded broker (no kafka.brokers) the defaults are Go's (100, no limit):
// that broker keeps every record in this process's memory, so a limit would be
// reached for good and the collector would run without pause.
type Memory struct {
	// Limit is the soft limit of the Go runtime's memory, in GOMEMLIMIT's syntax
	// (200MiB, 1GiB), or "off". Default 200MiB with a Kafka cluster, off with the
	// embedded broker. The whole-path benchmark's hub peaked at 210 MiB of RSS under
	// the default. Near the limit the collector runs more often (up to half the CPU
	// when the live heap itself reaches it): give a hub with many routes or large
	// batches more, and leave room under the container's own limit. The store's
	// caches take up to about 70 MB of it once full with their default sizes (identity
	// links 42 MB, receipt identifiers 10 MB, the relay's messages 16 MB: see
	// database.identityCache and database.outboxCache).
	Limit string `yaml:"limit"`
	// GCPercent is GOGC: collect when the heap has grown by this percentage since the
	// last collection (or reaches Limit, whichever comes first); -1 collects at Limit
	// only. Default 400 with a Kafka cluster, 100 with the embedded broker.
	GCPercent int `yaml:"gcPercent"`
}

// MemoryLimit parses Limit: the limit in bytes, or -1 for off. Units are GOMEMLIMIT's:
// B, KiB, MiB, GiB, TiB, or none (bytes).
func (m Memory) MemoryLimit() (int64, error) {
	s := strings.TrimSpace(m.Limit)
	if s == "off" {
		return -1, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("must be a size such as 200MiB or 1GiB (units B, KiB, MiB, GiB, TiB), or off, not %q", m.Limit)
	}
	return n * mult, nil
}

// Apply sets the Go runtime's collector from m, except where GOGC or GOMEMLIMIT in
// getenv, which the runtime itself read at start, say otherwise. It returns what the
// collector now runs with, in words for a log (400 or GOGC=250; 200MiB or
// GOMEMLIMIT=64MiB), and what puts back the settings it changed (a benchmark that runs
// the hub in its own process gives it serve's budget, then takes it back).
func (m Memory) Apply(getenv func(string) string) (gcPercent, limit string, restore func()) {
	gcPercent, limit = "GOGC="+getenv("GOGC"), "GOMEMLIMIT="+getenv("GOMEMLIMIT")
	var undo []func()
	if getenv("GOGC") == "" {
		old := debug.SetGCPercent(m.GCPercent)
		undo = append(undo, func() { debug.SetGCPercent(old) })
		gcPercent = strconv.Itoa(m.GCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		n, err := m.MemoryLimit()
		if err != nil || n < 0 { // off (Load refused anything else)
			n = math.MaxInt64
		}
		old := debug.SetMemoryLimit(n)
		undo = append(undo, func() { debug.SetMemoryLimit(old) })
		limit = m.Limit
	}
	return gcPercent, limit, func() {
		for _, u := range undo {
			u()
		}
	}
}

// Delivery tunes the delivery consumers.
type Delivery struct {
	// MaxAttempts before a transient failure that keeps failing is quarantined.
	// Default 20.
	MaxAttempts int `yaml:"maxAttempts"`
	// BackoffMin is the first retry delay. Default 200ms.
	BackoffMin time.Duration `yaml:"backoffMin"`
	// BackoffMax caps the retry delay. Default 30s.
	BackoffMax time.Duration `yaml:"backoffMax"`
	// Timeout bounds one delivery attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// FailureWindow is how many recent outcomes the circuit breaker looks at. Default 50.
	FailureWindow int `yaml:"failureWindow"`
	// FailureRatio stops a route when this share of the window failed. Default 0.8.
	FailureRatio float64 `yaml:"failureRatio"`
}

// Retention bounds how long the hub keeps personal data: payloads only as long as
// needed to deliver and to prove delivery, the audit's references for the legal period
// (DOMAIN.md, "Data protection"). Durations are Go durations: 720h is 30 days.
type Retention struct {
	// Payloads is how long a message's bytes stay once every destination received it
	// (and the destinations' receipts, and the bytes of replayed quarantine items).
	// Default 720h (30 days).
	Payloads time.Duration `yaml:"payloads"`
	// Quarantine is how long the bytes of what is quarantined stay, so that it can
	// still be replayed. Default 4320h (180 days); at least payloads.
	Quarantine time.Duration `yaml:"quarantine"`
	// Audit is how long audit rows (references only, never data) stay, and with them
	// the rows of facts and deliveries whose bytes were purged. Default 26280h (3
	// years); at least 4320h (180 days), below which the database refuses to cut.
	Audit time.Duration `yaml:"audit"`
	// Every is how often `passerelle serve` applies retention (one process at a time).
	// Default 1h.
	Every time.Duration `yaml:"every"`
	// Disabled stops serve from applying retention, for deployments that run
	// `passerelle retention run` from a scheduler instead. Default false.
	Disabled bool `yaml:"disabled"`
}

// What the facts of a doubtful match do until a human decides (Identities.Doubtful).
const (
	// DoubtfulSeparate: they go on at once under a new person id; a decision to link
	// makes the new id's later facts go on under the known person's.
	DoubtfulSeparate = "separate"
	// DoubtfulWait: they are held, delivered nowhere, until a human decides; then
	// they go on under the id the decision gives them.
	DoubtfulWait = "wait"
)

// Identities configures how the hub links the systems' identifiers of a person. A
// doubtful match (the same exact name and birth date as a known person, a different
// APPI or PRISME identifier) is never merged: it is listed for a human in
// `passerelle identities review`.
type Identities struct {
	// Doubtful is what the facts of a doubtful person do meanwhile: "separate" (the
	// default) sends them on under a new person id; "wait" holds them in the quarantine
	// (stage identity, the reason naming the review) until the review is decided,
	// then sends them on under the known person's id (link) or the new one (apart).
	Doubtful string `yaml:"doubtful"`
}

// Connector is one connector instance.
type Connector struct {
	// Kind is the registered connector it instantiates (genesis, cassiopee, appi,
	// prisme, ...). Default: the instance name.
	Kind string `yaml:"kind"`
	// Disabled keeps the instance in the file without running it. Default false.
	Disabled bool `yaml:"disabled"`
	// Settings are the connector's own settings, decoded by the connector.
	Settings map[string]any `yaml:",inline"`
}

// Route carries canonical messages of some types to one destination.
type Route struct {
	// Name identifies the route in logs, metrics, the audit and the console. Required,
	// unique, lower-case.
	Name string `yaml:"name"`
	// Types are the canonical types it carries (short names like "penal-record" or
	// CloudEvents types). At least one.
	Types []string `yaml:"types"`
	// Destination is the sink connector instance that receives them. Required.
	Destination string `yaml:"destination"`
	// LegalBasis is the text that allows this transmission and its purpose. Required:
	// a route without one refuses to start.
	LegalBasis LegalBasis `yaml:"legalBasis"`
	// Allow is the field policy: per canonical type, the data fields the destination
	// may receive (paths like "person.lastName" or "convictions[].offences[].natinf").
	// Everything else is removed before the sink sees the message (deny by default).
	Allow map[string][]string `yaml:"allow"`
	// Paused starts the route paused. Default false.
	Paused bool `yaml:"paused"`
}

// LegalBasis is what allows a route to transmit personal data.
type LegalBasis struct {
	// Reference is the legal text, e.g. "Code pénitentiaire, art. R240-1 et s.".
	Reference string `yaml:"reference"`
	// Purpose says why the recipient needs the data.
	Purpose string `yaml:"purpose"`
}

// Problem is one configuration problem at a path.
type Problem struct {
	Path    string
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Problems is every problem found in a configuration; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// Add appends a problem at path.
func (ps *Problems) Add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Err returns the problems as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return ps
}

// MinAuditRetention is the shortest audit retention: the database function that cuts
// the audit chain (store migration 0003) refuses rows younger than this.
const MinAuditRetention = 180 * 24 * time.Hour

// MaxFileSize bounds a configuration file; a larger one is refused unread.
const MaxFileSize = 4 << 20

// Load reads, completes and validates the configuration at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer func() { _ = f.Close() }()
	return ReadIn(f, os.Getenv, filepath.Dir(path))
}

// Read parses a configuration, applies the environment (getenv), fills defaults and
// validates everything. A *Problems error lists every problem found.
func Read(r io.Reader, getenv func(string) string) (*Config, error) {
	return ReadIn(r, getenv, ".")
}

// ReadIn is Read for a configuration whose relative paths (the policies file) are
// relative to dir.
func ReadIn(r io.Reader, getenv func(string) string, dir string) (*Config, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read: %w", err)
	}
	if len(raw) > MaxFileSize {
		return nil, fmt.Errorf("config: file larger than %d bytes", MaxFileSize)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.applyEnv(getenv)
	c.fillDefaults()
	var ps Problems
	c.applyPolicies(dir, &ps)
	if err := c.Validate(); err != nil {
		var vps Problems
		if errors.As(err, &vps) {
			ps = append(ps, vps...)
		} else {
			return nil, err
		}
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv("DATABASE_URL"); v != "" {
		c.Database.URL = v
	}
	if v := getenv("PASSERELLE_KAFKA_BROKERS"); v != "" {
		c.Kafka.Brokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Kafka.Brokers = append(c.Kafka.Brokers, b)
			}
		}
	}
}

func (c *Config) fillDefaults() {
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Database.MaxConns == 0 {
		c.Database.MaxConns = 16
	}
	if c.Kafka.EmbeddedAddr == "" {
		c.Kafka.EmbeddedAddr = "127.0.0.1:0"
	}
	if c.Kafka.TopicPrefix == "" {
		c.Kafka.TopicPrefix = "passerelle."
	}
	if c.Kafka.Partitions == 0 {
		c.Kafka.Partitions = 6
	}
	if c.Kafka.ReplicationFactor == 0 {
		c.Kafka.ReplicationFactor = 1
		if len(c.Kafka.Brokers) > 0 {
			c.Kafka.ReplicationFactor = 3
		}
	}
	if c.Kafka.SessionTimeout == 0 {
		c.Kafka.SessionTimeout = 10 * time.Second
	}
	if c.Kafka.RebalanceTimeout == 0 {
		c.Kafka.RebalanceTimeout = 30 * time.Second
	}
	if c.Kafka.HeartbeatInterval == 0 {
		c.Kafka.HeartbeatInterval = c.Kafka.SessionTimeout / 3
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	d := &c.Delivery
	if d.MaxAttempts == 0 {
		d.MaxAttempts = 20
	}
	if d.BackoffMin == 0 {
		d.BackoffMin = 200 * time.Millisecond
	}
	if d.BackoffMax == 0 {
		d.BackoffMax = 30 * time.Second
	}
	if d.Timeout == 0 {
		d.Timeout = 10 * time.Second
	}
	if d.FailureWindow == 0 {
		d.FailureWindow = 50
	}
	if d.FailureRatio == 0 {
		d.FailureRatio = 0.8
	}
	if c.Memory.Limit == "" {
		c.Memory.Limit = "200MiB"
		if c.Kafka.Embedded() {
			c.Memory.Limit = "off"
		}
	}
	if c.Memory.GCPercent == 0 {
		c.Memory.GCPercent = 400
		if c.Kafka.Embedded() {
			c.Memory.GCPercent = 100
		}
	}
	rt := &c.Retention
	if rt.Payloads == 0 {
		rt.Payloads = 30 * 24 * time.Hour
	}
	if rt.Quarantine == 0 {
		rt.Quarantine = 180 * 24 * time.Hour
	}
	if rt.Audit == 0 {
		rt.Audit = 3 * 365 * 24 * time.Hour
	}
	if rt.Every == 0 {
		rt.Every = time.Hour
	}
	if c.Identities.Doubtful == "" {
		c.Identities.Doubtful = DoubtfulSeparate
	}
	for name, cc := range c.Connectors {
		if cc.Kind == "" {
			cc.Kind = name
			c.Connectors[name] = cc
		}
	}
}

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	pathRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*(\[\])?(\.[a-zA-Z][a-zA-Z0-9]*(\[\])?)*$`)
)

// Validate checks the configuration on its own (connector settings and the names of
// canonical types are checked by the connectors and the schema registry, see
// CheckRefs). It reports every problem at once.
func (c *Config) Validate() error {
	var ps Problems
	switch c.Log.Format {
	case "json", "console":
	default:
		ps.Add("log.format", "must be json or console, not %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.Add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Database.URL == "" {
		ps.Add("database.url", "required (or set DATABASE_URL)")
	} else if !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") {
		ps.Add("database.url", "must be a postgres:// URL")
	}
	if c.Database.MaxConns < 2 {
		ps.Add("database.maxConns", "must be at least 2, not %d", c.Database.MaxConns)
	}
	for i, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			ps.Add(fmt.Sprintf("kafka.brokers[%d]", i), "must be host:port, not %q", b)
		}
	}
	if c.Kafka.Partitions < 1 || c.Kafka.Partitions > 1000 {
		ps.Add("kafka.partitions", "must be between 1 and 1000, not %d", c.Kafka.Partitions)
	}
	if c.Kafka.ReplicationFactor < 1 {
		ps.Add("kafka.replicationFactor", "must be at least 1")
	}
	if c.Kafka.RebalanceTimeout < time.Second {
		ps.Add("kafka.rebalanceTimeout", "must be at least 1s, not %s", c.Kafka.RebalanceTimeout)
	}
	if c.Kafka.HeartbeatInterval >= c.Kafka.SessionTimeout {
		ps.Add("kafka.heartbeatInterval", "must be shorter than sessionTimeout (%s)", c.Kafka.SessionTimeout)
	}
	if !strings.Contains(c.HTTP.Listen, ":") {
		ps.Add("http.listen", "must be host:port, not %q", c.HTTP.Listen)
	}
	d := c.Delivery
	if d.MaxAttempts < 1 {
		ps.Add("delivery.maxAttempts", "must be at least 1")
	}
	if d.BackoffMin <= 0 || d.BackoffMax < d.BackoffMin {
		ps.Add("delivery.backoffMax", "must be at least backoffMin (%s)", d.BackoffMin)
	}
	if d.Timeout <= 0 {
		ps.Add("delivery.timeout", "must be positive")
	}
	if d.FailureWindow < 1 {
		ps.Add("delivery.failureWindow", "must be at least 1")
	}
	if d.FailureRatio <= 0 || d.FailureRatio > 1 {
		ps.Add("delivery.failureRatio", "must be in (0, 1], not %g", d.FailureRatio)
	}
	if limit, err := c.Memory.MemoryLimit(); err != nil {
		ps.Add("memory.limit", "%s", err.Error())
	} else if limit >= 0 && limit < 32<<20 {
		ps.Add("memory.limit", "must be at least 32MiB, not %s", c.Memory.Limit)
	}
	if c.Memory.GCPercent < -1 {
		ps.Add("memory.gcPercent", "must be -1 (collect at the limit only) or positive, not %d", c.Memory.GCPercent)
	} else if c.Memory.GCPercent == -1 && c.Memory.Limit == "off" {
		ps.Add("memory.gcPercent", "-1 needs a limit: with limit off the collector would never run")
	}
	rt := c.Retention
	if rt.Payloads <= 0 {
		ps.Add("retention.payloads", "must be positive")
	}
	if rt.Quarantine < rt.Payloads {
		ps.Add("retention.quarantine", "must be at least payloads (%s)", rt.Payloads)
	}
	if rt.Audit < MinAuditRetention {
		ps.Add("retention.audit", "must be at least %s (180 days): the database refuses to cut younger audit rows", MinAuditRetention)
	}
	if rt.Every < time.Minute {
		ps.Add("retention.every", "must be at least 1m")
	}
	switch c.Identities.Doubtful {
	case DoubtfulSeparate, DoubtfulWait:
	default:
		ps.Add("identities.doubtful", "must be %s or %s, not %q", DoubtfulSeparate, DoubtfulWait, c.Identities.Doubtful)
	}
	for name, cc := range c.Connectors {
		if !nameRE.MatchString(name) {
			ps.Add("connectors."+name, "name must be lower-case letters, digits and dashes")
		}
		if !nameRE.MatchString(cc.Kind) {
			ps.Add("connectors."+name+".kind", "must be a connector name, not %q", cc.Kind)
		}
	}
	seen := map[string]bool{}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			ps.Add(p+".name", "required")
		case !nameRE.MatchString(r.Name):
			ps.Add(p+".name", "must be lower-case letters, digits and dashes, not %q", r.Name)
		case seen[r.Name]:
			ps.Add(p+".name", "duplicate route name %q", r.Name)
		}
		seen[r.Name] = true
		if len(r.Types) == 0 {
			ps.Add(p+".types", "at least one canonical type is required")
		}
		if r.Destination == "" {
			ps.Add(p+".destination", "required")
		} else if cc, ok := c.Connectors[r.Destination]; !ok {
			ps.Add(p+".destination", "no connector named %q", r.Destination)
		} else if cc.Disabled && !r.Paused {
			ps.Add(p+".destination", "connector %q is disabled: pause or remove the route", r.Destination)
		}
		if strings.TrimSpace(r.LegalBasis.Reference) == "" {
			ps.Add(p+".legalBasis.reference", "required: a route must name the legal text that allows it")
		}
		if strings.TrimSpace(r.LegalBasis.Purpose) == "" {
			ps.Add(p+".legalBasis.purpose", "required: a route must say why the recipient needs the data")
		}
		for typ, fields := range r.Allow {
			if !r.carries(typ) {
				ps.Add(p+".allow."+typ, "the route does not carry type %q", typ)
			}
			for j, f := range fields {
				if !pathRE.MatchString(f) {
					ps.Add(fmt.Sprintf("%s.allow.%s[%d]", p, typ, j), "%q is not a field path like person.lastName or sentences[].kind", f)
				}
			}
		}
		for _, typ := range r.Types {
			if _, ok := r.Allow[typ]; !ok {
				ps.Add(p+".allow", "no field policy for type %q: declare the fields the destination may receive", typ)
			}
		}
	}
	return ps.Err()
}

func (r Route) carries(typ string) bool {
	for _, t := range r.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// Embedded reports whether the hub must start its own broker.
func (k Kafka) Embedded() bool { return len(k.Brokers) == 0 }
