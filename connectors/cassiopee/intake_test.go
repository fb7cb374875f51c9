package cassiopee_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	"passerelle/connectors/cassiopee"
	"passerelle/connectors/cassiopee/sim"
)

const (
	exampleFerme     = "ferme-mandat-depot" // TJ PARIS 750010, transmission 2
	exampleProbation = "sursis-probatoire"  // TJ LYON 690123, transmission 1
	lyon, paris      = "690123", "750010"
)

func TestTheIntakeRefusesCallersWithoutARightCertificate(t *testing.T) {
	r := newIntakeRig(t)
	body := example(t, exampleProbation)
	cases := []struct {
		name   string
		kp     sim.KeyPair
		reason string
	}{
		{"without a client certificate, the handshake is refused", sim.KeyPair{}, "tls:no-certificate"},
		{"with an expired certificate, the handshake is refused", r.certs.Expired, "tls:expired certificate:"},
		{"with a certificate of another authority, the handshake is refused", r.certs.Rogue, "tls:unknown-authority certificate:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(r.refusals())
			_, err := r.clerk(c.kp).Send(t.Context(), body)
			require.Error(t, err)
			refusals := r.refusals()
			require.Len(t, refusals, before+1, "the refusal is audited")
			assert.True(t, strings.HasPrefix(refusals[before], c.reason), refusals[before])
		})
	}
	t.Run("a certificate without a court code is refused with 403, audited", func(t *testing.T) {
		a, err := r.clerk(r.certs.NoCourt).Send(t.Context(), body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, a.Status)
		require.NotNil(t, a.Problem)
		assert.Equal(t, cassiopee.ProblemTypeBase+"certificat-sans-juridiction", a.Problem.Type)
		refusals := r.refusals()
		assert.True(t, strings.HasPrefix(refusals[len(refusals)-1], "tls:no-court-code"))
	})
	t.Run("another court's decision is refused with 403, audited without personal data", func(t *testing.T) {
		a, err := r.clerk(r.certs.Courts[paris]).Send(t.Context(), body) // a Lyon decision
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, a.Status)
		assert.Equal(t, "application/problem+json", a.ContentType)
		require.NotNil(t, a.Problem)
		assert.Equal(t, "Transmission non autorisée", a.Problem.Title)
		assert.Contains(t, a.Problem.Detail, "690123")
		refusals := r.refusals()
		assert.Equal(t, "court:750010 payload-court:690123 court-mismatch", refusals[len(refusals)-1])
		var n int
		require.NoError(t, r.st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM outbox`).Scan(&n))
		assert.Zero(t, n, "nothing was accepted")
	})
	t.Run("no audit row carries a value of the refused bodies", func(t *testing.T) {
		for _, ref := range r.refusals() {
			for _, v := range []string{"MARTIN", "Julien", "02/11/1991", "Tanneurs", "addictologie"} {
				assert.NotContains(t, ref, v)
			}
		}
	})
}

func TestAFloodOfRefusalsIsAuditedInAFewRowsThatCountThemAll(t *testing.T) {
	r := newIntakeRig(t)
	body := example(t, exampleProbation) // a Lyon decision
	const n = 40
	otherCourt := r.clerk(r.certs.Courts[paris])
	var wg sync.WaitGroup
	for range n {
		// A workstation per refused handshake: concurrent requests of one transport
		// may share the handshake in progress, and the server counts handshakes.
		noCertificate, rogue := r.clerk(sim.KeyPair{}), r.clerk(r.certs.Rogue)
		wg.Go(func() {
			_, err := noCertificate.Send(context.Background(), body)
			assert.Error(t, err, "the handshake is refused")
		})
		wg.Go(func() {
			_, err := rogue.Send(context.Background(), body)
			assert.Error(t, err, "the handshake is refused")
		})
		wg.Go(func() {
			a, err := otherCourt.Send(context.Background(), body)
			if assert.NoError(t, err) {
				assert.Equal(t, http.StatusForbidden, a.Status)
			}
		})
	}
	wg.Wait()
	r.stop() // the intake writes what it counted when it stops

	refs := r.refusals()
	for _, kind := range []string{"tls:no-certificate", "tls:unknown-authority certificate:", "court:750010 payload-court:690123 court-mismatch"} {
		var rows []string
		total := 0
		for _, ref := range refs {
			if !strings.HasPrefix(ref, kind) {
				continue
			}
			rows = append(rows, ref)
			total++
			if _, after, ok := strings.Cut(ref, " count:"); ok {
				c, err := strconv.Atoi(strings.Fields(after)[0])
				require.NoError(t, err, ref)
				total += c - 1
			}
		}
		assert.Equal(t, n, total, "%s: the rows count every refusal: %q", kind, rows)
		// The first is audited at once, the rest when the interval (a minute) ends or
		// the intake stops: two rows, three if an interval ended during the burst.
		assert.LessOrEqual(t, len(rows), 3, "%s: %q", kind, rows)
	}
}

func TestTheIntakeAnswersAReceiptAndTheSameOneForTheSameTransmission(t *testing.T) {
	r := newIntakeRig(t)
	clerk := r.clerk(r.certs.Courts[lyon])
	body := example(t, exampleProbation)

	first, err := clerk.Send(t.Context(), body)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, first.Status, string(first.Body))
	rec := first.Receipt
	require.NotNil(t, rec)
	assert.Equal(t, lyon, rec.Juridiction)
	require.Len(t, rec.Messages, 1, "one message per prévenu")
	assert.Equal(t, 0, rec.Messages[0].Prevenu)
	assert.NotEmpty(t, rec.Messages[0].MessageID)
	assert.Equal(t, "parquet:24012345678 transmission:1", rec.Reference)

	t.Run("the same transmission sent again gives the same receipt", func(t *testing.T) {
		again, err := clerk.Send(t.Context(), body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, again.Status)
		require.NotNil(t, again.Receipt)
		assert.Equal(t, rec.ID, again.Receipt.ID)
		assert.Equal(t, rec.Messages[0].MessageID, again.Receipt.Messages[0].MessageID)
	})
	t.Run("sent twice at the same moment, it is still one receipt", func(t *testing.T) {
		doc := decodeDoc(t, body)
		doc["numeroTransmission"] = json.Number("5")
		b := encodeDoc(t, doc)
		var wg sync.WaitGroup
		ids := make([]string, 4)
		for i := range ids {
			wg.Go(func() {
				a, err := clerk.Send(context.Background(), b)
				if assert.NoError(t, err) && assert.NotNil(t, a.Receipt) {
					ids[i] = a.Receipt.ID
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			assert.Equal(t, ids[0], id)
		}
	})
	t.Run("an older transmission after a newer one is recorded as stale", func(t *testing.T) {
		doc := decodeDoc(t, body)
		doc["numeroTransmission"] = json.Number("3")
		a, err := clerk.Send(t.Context(), encodeDoc(t, doc))
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, a.Status)
		assert.Equal(t, connectors.StateStale, a.Receipt.Messages[0].Statut)
		assert.NotEmpty(t, a.Receipt.Messages[0].Courant, "names the newer transmission's message")
		assert.NotEqual(t, a.Receipt.Messages[0].MessageID, a.Receipt.Messages[0].Courant)
	})
	t.Run("the receipt is read by its court only", func(t *testing.T) {
		got, err := clerk.Receipt(t.Context(), rec.ID)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, got.Status)
		assert.Equal(t, rec.ID, got.Receipt.ID)
		// No route in this rig: the message is settled at once, and relayed once published.
		assert.Contains(t, []string{connectors.StateAccepted, connectors.StateRelayed}, got.Receipt.Messages[0].Statut)

		other, err := r.clerk(r.certs.Courts[paris]).Receipt(t.Context(), rec.ID)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, other.Status)
		unknown, err := clerk.Receipt(t.Context(), "not-a-receipt")
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, unknown.Status)
		assert.Equal(t, other.Body, unknown.Body, "another court's receipt and an unknown one look alike")
	})
}

func TestTheIntakeRefusesWhatItCannotRead(t *testing.T) {
	r := newIntakeRig(t)
	clerk := r.clerk(r.certs.Courts[lyon])
	t.Run("a body above the limit is 413", func(t *testing.T) {
		body := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), cassiopee.MaxBodyBytes)...)
		a, err := clerk.Send(t.Context(), append(body, `"}`...))
		require.NoError(t, err)
		assert.Equal(t, http.StatusRequestEntityTooLarge, a.Status)
		require.NotNil(t, a.Problem)
		assert.Equal(t, "Corps de requête trop volumineux", a.Problem.Title)
	})
	t.Run("another media type is 415", func(t *testing.T) {
		c := &http.Client{Transport: clerkTransport(t, r)}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.url+cassiopee.PathDecisions, strings.NewReader("x"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := c.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	})
}

// hostile is a hostile body and where its problem must be.
type hostile struct {
	name    string
	body    []byte
	pointer string // a problem must name this pointer (prefix when it ends with "*")
	rule    cassiopee.Rule
}

// hostileBodies builds a few hundred bodies a clerk's workstation should never send.
func hostileBodies(t *testing.T) []hostile {
	t.Helper()
	var out []hostile
	add := func(name string, body []byte, ptr string, rule cassiopee.Rule) {
		out = append(out, hostile{name, body, ptr, rule})
	}
	for _, ex := range []string{exampleFerme, exampleProbation} {
		base := example(t, ex)
		mut := func(ptr string, v any) []byte {
			doc := decodeDoc(t, base)
			setAt(t, doc, ptr, v)
			return encodeDoc(t, doc)
		}
		dates := []string{"/decision/dateDecision", "/prevenus/0/identite/dateNaissance", "/prevenus/0/infractions/0/dateFaits"}
		if ex == exampleFerme {
			dates = append(dates, "/decision/executoireLe")
		}
		for _, ptr := range dates {
			for _, d := range []string{"31/02/2024", "30/02/2024", "29/02/2023", "31/04/2024", "31/06/2024", "31/09/2024",
				"31/11/2024", "00/01/2024", "32/01/2024", "15/13/2024", "15/00/2024", "39/19/1999"} {
				add(ex+" "+ptr+" "+d, mut(ptr, d), ptr, cassiopee.RuleCalendarDate)
			}
			for _, d := range []string{"2024-02-01", "1/2/2024", "01/02/24", "", "01/02/2024 ", "aa/bb/cccc"} {
				add(ex+" "+ptr+" "+d, mut(ptr, d), ptr, "pattern")
			}
			add(ex+" "+ptr+" number", mut(ptr, 20240201), ptr, "type")
		}
		durations := []string{"/prevenus/0/peines/0/duree", "/prevenus/0/peines/0/dureeSursis"}
		if ex == exampleProbation {
			durations = append(durations, "/prevenus/0/peines/0/delaiEpreuve")
		}
		for _, ptr := range durations {
			for _, d := range []string{"0A0M0J", "0J", "0M", "0A", "00A00M", "0A0J"} {
				add(ex+" "+ptr+" "+d, mut(ptr, d), ptr, cassiopee.RuleZeroDuration)
			}
			for _, d := range []string{"6M2A", "2a", "-6M", "6 M", "1.5A", "M", "6MJ"} {
				add(ex+" "+ptr+" "+d, mut(ptr, d), ptr, "pattern")
			}
		}
		add(ex+" suspended part beyond the sentence", mut("/prevenus/0/peines/0/dureeSursis", "3A"),
			"/prevenus/0/peines/0/dureeSursis", cassiopee.RuleSuspendedExceedsDuration)
		add(ex+" enforceable before the decision", mut("/decision/executoireLe", "01/01/2020"),
			"/decision/executoireLe", cassiopee.RuleEnforceableBeforeDecision)
		for i, v := range []any{"2", 0, -1, 1.5, nil, true} {
			add(fmt.Sprintf("%s numeroTransmission %d", ex, i), mut("/numeroTransmission", v), "/numeroTransmission", "")
		}
		for _, code := range []string{"69012", "6901234", "ABCDEF", ""} {
			add(ex+" court "+code, mut("/juridiction/code", code), "/juridiction/code", "pattern")
		}
		add(ex+" no prévenu", mut("/prevenus", []any{}), "/prevenus", "minItems")
		add(ex+" unknown peine", mut("/prevenus/0/peines/0/code", "BAGNE"), "/prevenus/0/peines/0/code", "enum")
		// Duplicate keys at several depths.
		for _, key := range []string{`"versionFormat":"3",`, `"numeroParquet":"1",`, `"nom":"X",`, `"code":"EMP",`} {
			i := bytes.Index(base, []byte(strings.SplitN(key, ":", 2)[0]+":"))
			require.Positive(t, i, key)
			b := append(append(append([]byte(nil), base[:i]...), key...), base[i:]...)
			name := strings.Trim(strings.SplitN(key, ":", 2)[0], `"`)
			add(ex+" duplicate "+name, b, "*", cassiopee.RuleJSONDuplicateKey)
		}
		// Deep nesting in a field the contract does not name (tolerated, but bounded).
		for depth := cassiopee.MaxDepth; depth < cassiopee.MaxDepth+40; depth += 4 {
			nested := strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth)
			b := bytes.Replace(base, []byte(`"versionFormat"`), []byte(`"extension":`+nested+`,"versionFormat"`), 1)
			add(fmt.Sprintf("%s nesting %d", ex, depth), b, "/extension*", cassiopee.RuleJSONTooDeep)
		}
		// Negative and malformed amounts.
		if ex == exampleFerme {
			for _, m := range []string{"-500,00", "500.00", "1 500,00", "500,0", "5e3", "", "500,000", "+500"} {
				add(ex+" amount "+m, mut("/prevenus/0/peines/1/montant", m), "/prevenus/0/peines/1/montant", "pattern")
			}
			add(ex+" amount as a number", mut("/prevenus/0/peines/1/montant", -500), "/prevenus/0/peines/1/montant", "type")
		}
		add(ex+" invalid UTF-8", bytes.Replace(base, []byte(`"3"`), []byte("\"\xff\xfe\""), 1), "/versionFormat", cassiopee.RuleJSONInvalidUTF8)
		add(ex+" trailing data", append(append([]byte(nil), base...), `{}`...), "", cassiopee.RuleJSONTrailingData)
		add(ex+" cut", base[:len(base)/2], "*", cassiopee.RuleJSONSyntax)
	}
	add("not an object", []byte(`[]`), "", "type")
	add("empty", nil, "", cassiopee.RuleJSONSyntax)
	return out
}

func TestHostileBodiesAreAnsweredWithAProblemNamingTheField(t *testing.T) {
	r := newIntakeRig(t)
	clerk := r.clerk(r.certs.Courts[lyon])
	bodies := hostileBodies(t)
	require.Greater(t, len(bodies), 200)
	for _, h := range bodies {
		// The Paris example is sent by a Paris clerk, so that the court check does not
		// answer first.
		c := clerk
		if strings.HasPrefix(h.name, exampleFerme) {
			c = r.clerk(r.certs.Courts[paris])
		}
		a, err := c.Send(t.Context(), h.body)
		require.NoError(t, err, h.name)
		if !assert.Equal(t, http.StatusUnprocessableEntity, a.Status, "%s: %s", h.name, a.Body) {
			continue
		}
		require.NotNil(t, a.Problem, h.name)
		assert.Equal(t, cassiopee.ProblemTypeBase+"decision-invalide", a.Problem.Type)
		require.NotEmpty(t, a.Problem.Errors, h.name)
		found := false
		for _, p := range a.Problem.Errors {
			assert.NotEmpty(t, p.Rule, h.name)
			assert.NotEmpty(t, p.Detail, h.name)
			ptrOK := p.Pointer == h.pointer || h.pointer == "*" ||
				(strings.HasSuffix(h.pointer, "*") && strings.HasPrefix(p.Pointer, strings.TrimSuffix(h.pointer, "*")))
			if ptrOK && (h.rule == "" || p.Rule == h.rule) {
				found = true
			}
		}
		assert.True(t, found, "%s: no problem at %s (%s) in %+v", h.name, h.pointer, h.rule, a.Problem.Errors)
	}
	var accepted int
	require.NoError(t, r.st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM outbox`).Scan(&accepted))
	assert.Zero(t, accepted)
	for _, ref := range r.refusals() {
		assert.True(t, strings.HasPrefix(ref, "court:"), ref)
		assert.NotContains(t, ref, "31/02/2024", "refusals are audited by pointer and rule, without values")
		assert.NotContains(t, ref, "MARTIN")
	}
}
