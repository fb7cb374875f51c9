package cassiopee_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/connectors/cassiopee"
	"passerelle/connectors/cassiopee/sim"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
	"passerelle/schemas"
)

// intakeRig is the intake served over TLS on loopback with the hub's real push host on
// a fresh PostgreSQL database, without routes (what it accepts is settled at once).
type intakeRig struct {
	t     testing.TB
	st    *store.Store
	certs *sim.CertSet
	roots *x509.CertPool
	url   string
	// stop stops the intake (it then writes the refusals it counted); the test's end
	// does it otherwise.
	stop func()
}

func newIntakeRig(t testing.TB) *intakeRig {
	t.Helper()
	st, err := store.Open(t.Context(), pgtest.NewDatabase(t), store.Options{MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	reg, err := schemas.Load()
	require.NoError(t, err)
	routing, ps := pipeline.NewRouting(&config.Config{}, pipeline.Catalog{Reg: reg}, nil)
	require.Empty(t, ps)
	host := &pipeline.PushHost{Name: "cassiopee", Store: st, Log: zap.NewNop(),
		Ingester: &pipeline.Ingester{Store: st, Schemas: reg, Routing: routing, Log: zap.NewNop()}}
	certs, err := sim.GenerateCerts(t.TempDir(), sim.Courts)
	require.NoError(t, err)
	intake, stop := startIntake(t, certs, host)
	roots, err := cassiopee.LoadCertPool(certs.CAFile)
	require.NoError(t, err)
	return &intakeRig{t: t, st: st, certs: certs, roots: roots, url: "https://" + intake, stop: stop}
}

// startIntake serves an intake with host until the test ends or stop is called, and
// returns its address.
func startIntake(t testing.TB, certs *sim.CertSet, host connectors.Host) (addr string, stop func()) {
	t.Helper()
	serverCert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	require.NoError(t, err)
	cas, err := cassiopee.LoadCertPool(certs.CAFile)
	require.NoError(t, err)
	in, err := cassiopee.NewIntake(cassiopee.IntakeOptions{Listen: "127.0.0.1:0", Certificate: serverCert, ClientCAs: cas})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Serve(ctx, host) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	wait, stopWait := context.WithTimeout(ctx, 10*time.Second)
	defer stopWait()
	addr = in.Addr(wait)
	require.NotEmpty(t, addr, "the intake did not start")
	return addr, stop
}

// clerk returns a workstation of the court (its certificate), or with kp's certificate.
func (r *intakeRig) clerk(kp sim.KeyPair) *sim.Clerk {
	r.t.Helper()
	var cert tls.Certificate
	if kp.Cert != "" {
		var err error
		cert, err = kp.Load()
		require.NoError(r.t, err)
	}
	c := sim.NewClerk(r.url, cert, r.roots)
	r.t.Cleanup(c.Close)
	return c
}

// refusals returns the references of the audit's refusals.
func (r *intakeRig) refusals() []string {
	r.t.Helper()
	rows, err := r.st.Pool().Query(r.t.Context(), `SELECT reference FROM audit WHERE action = 'refuse' ORDER BY seq`)
	require.NoError(r.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(r.t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(r.t, rows.Err())
	return out
}

// example returns a contract example as sent.
func example(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "contract", name+".json"))
	require.NoError(t, err)
	return b
}

// eventually polls ok every 20 ms until it holds or d passes (a liveness guard, not a
// performance limit).
func eventually(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// decodeDoc reads a body into a generic tree (numbers kept as json.Number).
func decodeDoc(t testing.TB, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

func encodeDoc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// setAt sets the value at a JSON pointer of existing containers.
func setAt(t testing.TB, doc map[string]any, ptr string, v any) {
	t.Helper()
	toks := strings.Split(ptr[1:], "/")
	var cur any = doc
	for i, tok := range toks {
		last := i == len(toks)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[tok] = v
				return
			}
			cur = c[tok]
		case []any:
			n, err := strconv.Atoi(tok)
			require.NoError(t, err)
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			t.Fatalf("no container at %s", ptr)
		}
	}
}

// clerkTransport is a Lyon clerk's raw transport, for requests the Clerk does not make.
func clerkTransport(t *testing.T, r *intakeRig) *http.Transport {
	t.Helper()
	cert, err := r.certs.Courts[lyon].Load()
	require.NoError(t, err)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}
