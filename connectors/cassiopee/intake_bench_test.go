package cassiopee_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"passerelle/connectors/cassiopee/sim"
)

// BenchmarkIntake measures a decision's way through the intake over TLS — decode,
// validate, map, resolve the persons, ingest with its receipt in PostgreSQL — with 8
// workstations sending at once; it reports accepted decisions per second.
func BenchmarkIntake(b *testing.B) {
	r := newIntakeRig(b)
	g := sim.NewGenerator(42, sim.Courts[0])
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = sim.Body(g.Decision())
	}
	clerk := r.clerk(r.certs.Courts[sim.Courts[0].Code])
	next := make(chan []byte)
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for body := range next {
				a, err := clerk.Send(context.Background(), body)
				if err != nil || a.Status != http.StatusAccepted {
					if failed.Add(1) == 1 {
						b.Logf("first failure: %v %d %s", err, a.Status, a.Body)
					}
				}
			}
		})
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d decisions not accepted", n)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
}
