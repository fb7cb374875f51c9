package sim_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	"passerelle/connectors/cassiopee"
	"passerelle/connectors/cassiopee/sim"
)

func TestGenerateCerts(t *testing.T) {
	set, err := sim.GenerateCerts(t.TempDir(), sim.Courts)
	require.NoError(t, err)
	roots, err := cassiopee.LoadCertPool(set.CAFile)
	require.NoError(t, err)
	leaf := func(kp sim.KeyPair) *x509.Certificate {
		c, err := kp.Load()
		require.NoError(t, err)
		x, err := x509.ParseCertificate(c.Certificate[0])
		require.NoError(t, err)
		return x
	}
	verify := func(c *x509.Certificate, usage x509.ExtKeyUsage) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	t.Run("each court's certificate carries its code and is valid for client authentication", func(t *testing.T) {
		require.Len(t, set.Courts, len(sim.Courts))
		for _, c := range sim.Courts {
			x := leaf(set.Courts[c.Code])
			assert.Equal(t, c.Code, cassiopee.CourtOf(x))
			assert.NoError(t, verify(x, x509.ExtKeyUsageClientAuth))
		}
	})
	t.Run("the server certificate is valid for loopback", func(t *testing.T) {
		x := leaf(set.ServerKeyPair())
		require.NoError(t, verify(x, x509.ExtKeyUsageServerAuth))
		assert.NoError(t, x.VerifyHostname("127.0.0.1"))
		assert.NoError(t, x.VerifyHostname("localhost"))
	})
	t.Run("the refusal certificates are refused for what they are", func(t *testing.T) {
		var inv x509.CertificateInvalidError
		require.ErrorAs(t, verify(leaf(set.Expired), x509.ExtKeyUsageClientAuth), &inv)
		assert.Equal(t, x509.Expired, inv.Reason)
		var unknown x509.UnknownAuthorityError
		assert.ErrorAs(t, verify(leaf(set.Rogue), x509.ExtKeyUsageClientAuth), &unknown)
		assert.Empty(t, cassiopee.CourtOf(leaf(set.NoCourt)))
	})
	_, err = sim.GenerateCerts(t.TempDir(), nil)
	assert.ErrorIs(t, err, sim.ErrNoCourts)
}

func TestTheGeneratorsDecisionsAreValidAndItsMistakesRefused(t *testing.T) {
	g := sim.NewGenerator(7, sim.Courts[0])
	codes := map[string]int{}
	several := 0
	for range 500 {
		d := g.Decision()
		got, problems, err := cassiopee.Decode(sim.Body(d))
		require.NoError(t, err, "%v", problems)
		_, err = cassiopee.ToJudgments(got, time.Now())
		require.NoError(t, err)
		if len(d.Prevenus) > 1 {
			several++
		}
		for _, p := range d.Prevenus {
			for _, pe := range p.Peines {
				codes[pe.Code]++
			}
		}
		r := g.Retransmit(d)
		assert.Equal(t, d.NumeroTransmission+1, r.NumeroTransmission)
		_, problems, err = cassiopee.Decode(sim.Body(r))
		require.NoError(t, err, "%v", problems)
	}
	assert.Positive(t, several, "some decisions have several prévenus")
	for _, c := range []string{cassiopee.CodeEMP, cassiopee.CodeEMPSursis, cassiopee.CodeEMPSursisProbatoire, cassiopee.CodeTIG,
		cassiopee.CodeJoursAmende, cassiopee.CodeAmende, cassiopee.CodeSSJ, cassiopee.CodeDDSE} {
		assert.Positive(t, codes[c], c)
	}
	wants := map[string]cassiopee.Rule{
		sim.MistakeImpossibleDate: cassiopee.RuleCalendarDate,
		sim.MistakeSursisExceeds:  cassiopee.RuleSuspendedExceedsDuration,
		sim.MistakeZeroDuration:   cassiopee.RuleZeroDuration,
	}
	for kind, rule := range wants {
		_, problems, err := cassiopee.Decode(sim.Body(g.Mistake(g.Decision(), kind)))
		require.ErrorIs(t, err, cassiopee.ErrRefused, kind)
		require.Len(t, problems, 1, kind)
		assert.Equal(t, rule, problems[0].Rule, kind)
	}
	other := g.Mistake(g.Decision(), sim.MistakeOtherCourt)
	assert.NotEqual(t, sim.Courts[0].Code, other.Juridiction.Code)
	_, _, err := cassiopee.Decode(sim.Body(other))
	assert.NoError(t, err, "another court's decision is valid: the intake refuses it for the certificate")
}

func TestWorkload(t *testing.T) {
	ts, newest := sim.NewGenerator(1, sim.Courts[1]).Workload(100, 8)
	require.Len(t, newest, 100)
	phases, mistakes, repeats := map[int]int{}, 0, 0
	for _, tr := range ts {
		phases[tr.Phase]++
		if tr.Mistake != "" {
			mistakes++
		}
		if tr.Repeat {
			repeats++
		}
	}
	assert.Equal(t, 8, mistakes)
	assert.Positive(t, repeats)
	assert.Positive(t, phases[1])
	assert.Positive(t, phases[2])
	assert.Positive(t, phases[3])
	retransmitted := 0
	for _, d := range newest {
		if d.NumeroTransmission > 1 {
			retransmitted++
		}
	}
	assert.Positive(t, retransmitted)
}

func TestAClerkWithoutAnIntakeGetsAnError(t *testing.T) {
	c := sim.NewClerk("https://127.0.0.1:1", tls.Certificate{}, x509.NewCertPool())
	defer c.Close()
	_, err := c.Send(t.Context(), []byte(`{}`))
	assert.Error(t, err)
}

// acceptAll is a connectors.Host that accepts every push.
type acceptAll struct{}

func (acceptAll) Accept(_ context.Context, p connectors.Push) (connectors.Pushed, error) {
	r := connectors.PushReceipt{ID: "00000000-0000-4000-8000-000000000001", Caller: p.Caller}
	for i, m := range p.Facts[0].Messages {
		r.Messages = append(r.Messages, connectors.PushMessage{Index: i, MessageID: m.ID, State: connectors.StateAccepted})
	}
	return connectors.Pushed{ReceiptID: r.ID, Receipt: r}, nil
}

func (acceptAll) Receipt(context.Context, string, string) (connectors.PushReceipt, error) {
	return connectors.PushReceipt{}, connectors.ErrNoReceipt
}

func (acceptAll) Audit(context.Context, connectors.AuditEntry) error { return nil }

func TestTheDemoClerkSendsDecisionsAndMistakes(t *testing.T) {
	set, err := sim.GenerateCerts(t.TempDir(), sim.Courts)
	require.NoError(t, err)
	cert, err := set.ServerKeyPair().Load()
	require.NoError(t, err)
	cas, err := cassiopee.LoadCertPool(set.CAFile)
	require.NoError(t, err)
	in, err := cassiopee.NewIntake(cassiopee.IntakeOptions{Listen: "127.0.0.1:0", Certificate: cert, ClientCAs: cas})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- in.Serve(ctx, acceptAll{}) }()
	addr := in.Addr(ctx)
	require.NotEmpty(t, addr)

	var lines []string
	runCtx, stop := context.WithCancel(ctx)
	err = sim.Run(runCtx, sim.RunOptions{URL: "https://" + addr, Certs: set, Interval: time.Millisecond, Report: func(l string) {
		lines = append(lines, l)
		if len(lines) == 24 {
			stop()
		}
	}})
	require.NoError(t, err)
	joined := strings.Join(lines, "\n")
	assert.Contains(t, joined, "nouvelle décision")
	assert.Contains(t, joined, "re-transmission")
	assert.Contains(t, joined, "): 202")
	assert.Contains(t, joined, "erreur : ")
	assert.Contains(t, joined, "): 422")
	cancel()
	require.NoError(t, <-served)
}
