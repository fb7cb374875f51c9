package cassiopee_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/cassiopee"
	"passerelle/connectors/cassiopee/sim"
	"passerelle/connectors/connectortest"
	"passerelle/pipeline/pipelinetest"
)

func TestTheCassiopeeIntakePassesTheAcceptanceSuite(t *testing.T) {
	connectortest.RunPush(t, connectortest.PushHarness{
		Spec: cassiopee.Spec,
		Start: func(t *testing.T) connectortest.PushSystem {
			certs, err := sim.GenerateCerts(t.TempDir(), sim.Courts)
			require.NoError(t, err)
			addr := pipelinetest.FreeAddr(t)
			settings := map[string]any{"listen": addr, "certFile": certs.ServerCert, "keyFile": certs.ServerKey,
				"clientCAFile": certs.CAFile}
			return connectortest.PushSystem{Settings: settings, Push: func(ctx context.Context) error {
				roots, err := cassiopee.LoadCertPool(certs.CAFile)
				if err != nil {
					return err
				}
				// Each example is its court's: its clerk sends it with that court's certificate.
				for _, ex := range []struct{ name, court string }{{"sursis-probatoire", "690123"}, {"ferme-mandat-depot", "750010"}} {
					name, court := ex.name, ex.court
					cert, err := certs.Courts[court].Load()
					if err != nil {
						return err
					}
					clerk := sim.NewClerk("https://"+addr, cert, roots)
					a, err := sendWhenServing(ctx, clerk, example(t, name))
					clerk.Close()
					if err != nil {
						return err
					}
					if a.Status != http.StatusAccepted && a.Status != http.StatusOK {
						return fmt.Errorf("%s: HTTP %d", name, a.Status)
					}
				}
				return nil
			}}
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "a listen address without a port", Settings: map[string]any{"listen": "127.0.0.1", "certFile": "x", "keyFile": "y", "clientCAFile": "z"}, Path: "listen"},
			{Name: "a certificate file that does not exist", Settings: map[string]any{"listen": "127.0.0.1:0",
				"certFile": filepath.Join(t.TempDir(), "none.pem"), "keyFile": filepath.Join(t.TempDir(), "none-key.pem"),
				"clientCAFile": filepath.Join(t.TempDir(), "ca.pem")}},
			{Name: "an unknown setting", Settings: map[string]any{"listen": "127.0.0.1:0", "port": 8443}},
		},
		Canaries: []string{"N'DIAYE", "Moussa", "17/06/1988", "1988-06-17", "MARTIN", "Julien", "02/11/1991", "1991-11-02"},
		Golden:   filepath.Join("testdata", "acceptance.golden.json"),
		Update:   updateGolden(),
	})
}

// sendWhenServing sends body once the intake answers: Serve has just been started.
func sendWhenServing(ctx context.Context, clerk *sim.Clerk, body []byte) (sim.Answer, error) {
	for {
		a, err := clerk.Send(ctx, body)
		if err == nil || ctx.Err() != nil {
			return a, err
		}
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-timeAfter():
		}
	}
}

func timeAfter() <-chan time.Time { return time.After(50 * time.Millisecond) }

// updateGolden reads the package's -update flag (declared by its internal tests).
func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}
