package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// loadContract compiles the embedded contract once per process: the schemas are
// immutable and safe for concurrent use, and every Server shares them.
var loadContract = sync.OnceValues(func() (*contractSchemas, error) { return compileContract(OpenAPI) })

// Server is a PRISME simulator. Serve its Handler over HTTP (httptest.NewServer in
// tests, an http.Server in the demo). All its methods are safe for concurrent use.
type Server struct {
	opts    Options
	schemas *contractSchemas
	clients map[string]Client
	faults  *FaultPlan
	mux     *http.ServeMux

	mu           sync.Mutex
	rng          *rand.Rand
	idRNG        *rand.Rand // generated event ids, apart from rng
	tokens       map[string]token
	tokensIssued int64
	reqSeq       int64
	requests     []Request
	stats        counters
	stores       map[Kind]*kindStore
	itemSeq      map[Kind]int64
	idem         map[idemKey]idemEntry
	people       *registry
	events       []Evenement
	rawEvents    map[int]json.RawMessage // index in events → the bytes served (AddRawEvent)
	eventIDs     map[string]bool
	pieces       map[string][]byte
	lastPage     map[string]string // client id → `apres` of the page it was served last
}

// counters are the answered statuses.
type counters struct {
	byStatus   map[int]int64
	byEndpoint map[Endpoint]map[int]int64
	dropped    int64
}

// kindStore holds the items of one kind.
type kindStore struct {
	current map[string]*Item
	history []*Item
}

// New returns a simulator configured by opts (zero fields take their defaults).
// It panics only if the embedded contract does not compile, a defect of the build that
// the package's tests catch.
func New(opts Options) *Server {
	schemas, err := loadContract()
	if err != nil {
		panic(fmt.Sprintf("prisme sim: embedded contract: %v", err))
	}
	opts = opts.withDefaults()
	s := &Server{
		opts:      opts,
		schemas:   schemas,
		clients:   make(map[string]Client, len(opts.Clients)),
		faults:    newFaultPlan(opts.Seed),
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed+1)),
		idRNG:     rand.New(rand.NewPCG(opts.Seed+2, opts.Seed^0x5bd1e995)),
		tokens:    map[string]token{},
		stats:     counters{byStatus: map[int]int64{}, byEndpoint: map[Endpoint]map[int]int64{}},
		stores:    make(map[Kind]*kindStore, len(kinds)),
		itemSeq:   make(map[Kind]int64, len(kinds)),
		idem:      map[idemKey]idemEntry{},
		people:    newRegistry(),
		eventIDs:  map[string]bool{},
		rawEvents: map[int]json.RawMessage{},
		pieces:    map[string][]byte{},
		lastPage:  map[string]string{},
	}
	for _, c := range opts.Clients {
		s.clients[c.ID] = c
	}
	for _, k := range kinds {
		s.stores[k] = &kindStore{current: map[string]*Item{}}
	}
	s.mux = s.routes()
	return s
}

// Handler serves the contract's endpoints and the /_sim/ read API.
func (s *Server) Handler() http.Handler { return s.mux }

// Faults returns the fault plan; its setters take effect on the next call.
func (s *Server) Faults() *FaultPlan { return s.faults }

// now reads the configured clock.
func (s *Server) now() time.Time { return s.opts.Now() }

// routes builds the mux.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.recorded(EndpointToken, s.handleToken))
	for _, k := range kinds {
		mux.HandleFunc("POST /api/v1/"+string(k), s.recorded(Endpoint(k), s.writeHandler(k)))
	}
	mux.HandleFunc("GET /api/v1/evenements", s.recorded(EndpointEvenements, s.handleEvents))
	s.simRoutes(mux)
	return mux
}

// exchange is one request being answered: its log entry, written once, when the
// answer is decided and before its bytes leave, so that a client that got its answer
// always finds the request in the log.
type exchange struct {
	Request
	s      *Server
	logged bool
}

// commit logs the request and counts its status, once.
func (x *exchange) commit() {
	if x == nil || x.logged {
		return
	}
	x.logged = true
	x.s.finish(&x.Request)
}

// recorded wraps a contract handler so that the request is logged and counted.
func (s *Server) recorded(ep Endpoint, h func(http.ResponseWriter, *http.Request, *exchange)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqSeq++
		rec := &exchange{s: s, Request: Request{Seq: s.reqSeq, At: s.now(), Endpoint: ep, Method: r.Method,
			IdempotencyKey: r.Header.Get("Idempotency-Key"), CorrelationID: r.Header.Get("X-Correlation-Id")}}
		s.mu.Unlock()
		if rec.CorrelationID != "" {
			w.Header().Set("X-Correlation-Id", rec.CorrelationID)
		}
		defer rec.commit() // an answer that was never decided (client gone, abort)
		h(w, r, rec)
	}
}

// finish appends rec to the log and counts its status.
func (s *Server) finish(rec *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, *rec)
	// Trim by batches of a quarter so that a full log costs O(1) per request.
	if len(s.requests) > s.opts.MaxRequests+s.opts.MaxRequests/4 {
		s.requests = slices.Clone(s.requests[len(s.requests)-s.opts.MaxRequests:])
	}
	if rec.ReplyDropped {
		s.stats.dropped++
		return
	}
	s.stats.byStatus[rec.Status]++
	m := s.stats.byEndpoint[rec.Endpoint]
	if m == nil {
		m = map[int]int64{}
		s.stats.byEndpoint[rec.Endpoint] = m
	}
	m[rec.Status]++
}

// delay waits out the latency fault of ep, or until the client goes away. A request
// body is read into memory first (up to MaxBodyBytes+1, the rest left to the
// handler): net/http notices a client that gave up only once the body was read to its
// end, and a simulator still waiting on an abandoned request would hold its connection
// — and a test server's shutdown — for the whole latency.
func (s *Server) delay(r *http.Request, ep Endpoint) {
	d := s.faults.latency(ep)
	if d <= 0 {
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		rest := r.Body
		b, err := io.ReadAll(io.LimitReader(rest, MaxBodyBytes+1))
		if err == nil {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(b), rest), rest}
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// injectFailure answers an injected 503/429 if the plan says so.
func (s *Server) injectFailure(w http.ResponseWriter, rec *exchange, ep Endpoint) bool {
	status, retryAfter, fail := s.faults.takeFailure(ep)
	if !fail {
		return false
	}
	rec.Fault = "status"
	w.Header().Set("Retry-After", retryAfterSeconds(retryAfter))
	detail := "PRISME est momentanément indisponible ; réessayer après le délai indiqué"
	slug := "indisponible"
	if status == http.StatusTooManyRequests {
		detail = "trop de requêtes ; réessayer après le délai indiqué"
		slug = "trop-de-requetes"
	}
	writeProblem(w, rec, newProblem(status, slug, detail))
	return true
}

// Requests returns every request received, in arrival order (the oldest may have been
// dropped beyond Options.MaxRequests).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	out := slices.Clone(s.requests)
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// Current returns the current item of every key of kind (nil for an unknown kind).
func (s *Server) Current(kind Kind) map[string]Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, ok := s.stores[kind]
	if !ok {
		return nil
	}
	out := make(map[string]Item, len(ks.current))
	for k, it := range ks.current {
		out[k] = *it
	}
	return out
}

// History returns every item of kind PRISME stored, current or not, in arrival order;
// each says what its Accuse answered (Courant).
func (s *Server) History(kind Kind) []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, ok := s.stores[kind]
	if !ok {
		return nil
	}
	out := make([]Item, len(ks.history))
	for i, it := range ks.history {
		out[i] = *it
	}
	return out
}

// Dossiers returns the dossiers, oldest first.
func (s *Server) Dossiers() []Dossier { s.mu.Lock(); defer s.mu.Unlock(); return s.people.snapshot() }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Requests:       s.reqSeq,
		ByStatus:       make(map[int]int64, len(s.stats.byStatus)),
		ByEndpoint:     make(map[Endpoint]map[int]int64, len(s.stats.byEndpoint)),
		DroppedReplies: s.stats.dropped,
		Stored:         make(map[Kind]int, len(kinds)),
		Current:        make(map[Kind]int, len(kinds)),
		Dossiers:       s.people.count(),
		Events:         len(s.events),
		TokensIssued:   s.tokensIssued,
	}
	for k, v := range s.stats.byStatus {
		st.ByStatus[k] = v
	}
	for ep, m := range s.stats.byEndpoint {
		c := make(map[int]int64, len(m))
		for k, v := range m {
			c[k] = v
		}
		st.ByEndpoint[ep] = c
	}
	for k, ks := range s.stores {
		st.Stored[k] = len(ks.history)
		st.Current[k] = len(ks.current)
	}
	return st
}

// DeleteItem removes every item of kind stored under key (current and history) and
// forgets the idempotency keys that stored them, as if PRISME had never received them
// (a restore from an older backup, a manual deletion): a partner that pushes the item
// again, even with the same Idempotency-Key, stores it anew (201). Dossiers stay.
func (s *Server) DeleteItem(kind Kind, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, ok := s.stores[kind]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	_, held := ks.current[key]
	n := len(ks.history)
	ks.history = slices.DeleteFunc(ks.history, func(it *Item) bool { return it.Key == key })
	if !held && n == len(ks.history) {
		return fmt.Errorf("%w: %s %q", ErrNotFound, kind, key)
	}
	delete(ks.current, key)
	for ik, e := range s.idem {
		if ik.kind == kind && e.itemKey == key {
			delete(s.idem, ik)
		}
	}
	return nil
}

// bodyCopy keeps a private copy of a request body for the item store.
func bodyCopy(b []byte) json.RawMessage { return slices.Clone(b) }
