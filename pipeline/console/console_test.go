package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/pipeline/console"
	"passerelle/pipeline/store"
)

// browser is an HTTP client with a cookie jar that remembers the last CSRF token.
type browser struct {
	t    *testing.T
	c    *http.Client
	csrf string
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, c: &http.Client{Jar: jar}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(method, u string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	if m := csrfRE.FindSubmatch(out); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(out)
}

func (b *browser) login(base, name string) {
	b.t.Helper()
	code, body := b.do(http.MethodPost, base+"login", url.Values{"name": {name}, "password": {password}})
	require.Equal(b.t, http.StatusOK, code, body)
}

func TestConsolePagesControlsAndAudit(t *testing.T) {
	r := startRig(t)
	st := r.run.Store

	t.Run("every page needs a sign-in, and a wrong password is refused", func(t *testing.T) {
		b := newBrowser(t)
		code, body := b.do(http.MethodGet, r.base, nil)
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, `action="/console/login"`, "redirected to the sign-in")
		code, _ = b.do(http.MethodPost, r.base+"login", url.Values{"name": {"alice"}, "password": {"wrong"}})
		assert.Equal(t, http.StatusUnauthorized, code)
		code, _ = b.do(http.MethodGet, r.base+"api/routes", nil)
		assert.Equal(t, http.StatusUnauthorized, code)
	})

	b := newBrowser(t)
	b.login(r.base, "alice")
	t.Run("the routes page shows each route, its counts and legal basis", func(t *testing.T) {
		code, body := b.do(http.MethodGet, r.base, nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "measures-to-archive")
		assert.Contains(t, body, "Code pénitentiaire, art. R113-49 — console test")
		assert.Regexp(t, `data-field="delivered">5<`, body)
		assert.Contains(t, body, `data-source="appi-export"`)
	})
	t.Run("a route is paused and resumed from the console, audited under the account", func(t *testing.T) {
		code, _ := b.do(http.MethodPost, r.base+"routes/measures-to-archive/pause", url.Values{"csrf": {"forged"}})
		assert.Equal(t, http.StatusForbidden, code, "a form without the session's token is refused")
		code, body := b.do(http.MethodPost, r.base+"routes/measures-to-archive/pause", url.Values{"csrf": {b.csrf}, "reason": {"test"}})
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "Route measures-to-archive paused.")
		assert.Contains(t, body, `<span class="state paused" data-field="state">paused</span>`)
		assert.True(t, r.run.Controls.RoutePaused("measures-to-archive"))
		code, _ = b.do(http.MethodPost, r.base+"routes/measures-to-archive/resume", url.Values{"csrf": {b.csrf}})
		require.Equal(t, http.StatusOK, code)
		assert.False(t, r.run.Controls.RoutePaused("measures-to-archive"))
		var n int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE actor = 'console:alice' AND action IN ('pause', 'resume')`).Scan(&n))
		assert.Equal(t, 2, n)
	})
	t.Run("the API answers HTTP Basic and pauses a source", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.base+"api/sources/appi-export/pause", nil)
		require.NoError(t, err)
		req.SetBasicAuth("alice", password)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.True(t, r.run.Controls.SourcePaused("appi-export"))
		req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, r.base+"api/sources/appi-export/resume", nil)
		require.NoError(t, err)
		req.SetBasicAuth("alice", password)
		resp, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.False(t, r.run.Controls.SourcePaused("appi-export"))

		code, body := b.do(http.MethodGet, r.base+"api/routes", nil)
		require.Equal(t, http.StatusOK, code)
		var got struct {
			Routes []struct {
				Name      string `json:"name"`
				State     string `json:"state"`
				Delivered int64  `json:"delivered"`
			} `json:"routes"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.Len(t, got.Routes, 1)
		assert.Equal(t, "running", got.Routes[0].State)
		assert.EqualValues(t, 5, got.Routes[0].Delivered)
	})
	t.Run("the journal finds a person by each identifier, and each lookup is audited", func(t *testing.T) {
		for _, q := range []struct{ kind, value string }{{"ecrou", ecrou}, {"ecrou", ecrou + "@" + etab}, {"appi", appiFile}, {"parquet", parquet}} {
			code, body := b.do(http.MethodGet, r.base+"journal?"+url.Values{"kind": {q.kind}, "q": {q.value}}.Encode(), nil)
			require.Equal(t, http.StatusOK, code, q)
			assert.Contains(t, body, `<h1 id="person">BENALI Yasmina</h1>`, q)
			assert.Contains(t, body, "ECROU "+ecrou+"@"+etab)
			assert.Equal(t, 3, strings.Count(body, `class="entry delivered"`), "three facts, delivered")
			assert.Contains(t, body, `class="measure past"`)
			assert.Contains(t, body, `class="measure current"`)
			assert.Contains(t, body, `class="measure upcoming"`)
		}
		code, body := b.do(http.MethodGet, r.base+"journal?kind=prisme&q=nobody", nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "No person is known by this identifier.")
		var lookups, journals int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE action = 'person-lookup'),
			count(*) FILTER (WHERE action = 'person-journal') FROM audit WHERE actor = 'console:alice'`).Scan(&lookups, &journals))
		assert.Equal(t, 5, lookups, "every search, found or not")
		assert.Equal(t, 4, journals, "every journal shown")
		var leaked int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE reference LIKE '%'||$1||'%' OR reference LIKE '%'||$2||'%'`,
			ecrou, "BENALI").Scan(&leaked))
		assert.Zero(t, leaked, "the audit names the person by canonical id, not by identifier or name")
	})
	t.Run("a quarantined delivery is listed with its reason and replayed", func(t *testing.T) {
		item := r.quarantineOne()
		code, body := b.do(http.MethodGet, r.base+"quarantine?stage=deliver", nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "refused with HTTP 422")
		assert.Contains(t, body, `action="/console/quarantine/`)
		code, body = b.do(http.MethodPost, r.base+"quarantine/"+itoa(item.ID)+"/replay", url.Values{"csrf": {b.csrf}, "back": {"/console/quarantine"}})
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "replayed: redelivering")
		r.waitDelivered(6)
		var n int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE actor = 'console:alice' AND action = 'replay'`).Scan(&n))
		assert.Equal(t, 1, n)
	})
	t.Run("a correction owed to a destination is listed and recorded as carried, audited under the account", func(t *testing.T) {
		code, body := b.do(http.MethodGet, r.base+"rectifications", nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "No correction pending.")

		person, ok, err := st.FindPerson(t.Context(), "APPI", appiFile)
		require.NoError(t, err)
		require.True(t, ok)
		code, body = b.do(http.MethodGet, r.base+"journal/"+person, nil)
		require.Equal(t, http.StatusOK, code)
		assert.NotContains(t, body, "rectifications?person=", "no correction owed: no link")

		// Version 7 of a measure whose version 6 the archive acknowledged, refused there.
		item := r.quarantineVersion(7)
		code, body = b.do(http.MethodGet, r.base+"journal/"+person, nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, `href="/console/rectifications?person=`+person+`">1 correction still owed</a>`,
			"the journal leads to the person's corrections")
		code, body = b.do(http.MethodGet, r.base+"rectifications?"+url.Values{"person": {person}}.Encode(), nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, `href="/console/journal/`+person+`"`)
		assert.Contains(t, body, "APPI:"+canonical.APPIMeasureRef("M-31-2024-007120"))
		assert.Regexp(t, `<td class="num">v6</td>\s*<td class="num">v7</td>\s*<td>archive</td>\s*<td><span class="state quarantined">quarantined</span>`, body)
		ack := "rectifications/" + item.MessageID.String() + "/archive/ack"
		assert.Contains(t, body, `action="/console/`+ack+`"`)
		code, body = b.do(http.MethodGet, r.base+"rectifications?person="+uuid.NewString(), nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "No correction pending.", "the filter keeps to the person")
		code, body = b.do(http.MethodGet, r.base+"rectifications?person=BENALI", nil)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, body, "canonical person id")
		assert.NotContains(t, body, "BENALI", "a name typed in the filter is neither kept nor shown")

		code, _ = b.do(http.MethodPost, r.base+ack, url.Values{"csrf": {"forged"}})
		assert.Equal(t, http.StatusForbidden, code, "a form without the session's token is refused")
		code, body = b.do(http.MethodPost, r.base+ack, url.Values{"csrf": {b.csrf}, "back": {"/console/rectifications"}})
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "Correction recorded as carried to archive by console:alice.")
		assert.Contains(t, body, "No correction pending.")
		code, body = b.do(http.MethodPost, r.base+ack, url.Values{"csrf": {b.csrf}, "back": {"/console/rectifications"}})
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "Not done: no correction of this message is pending at archive")

		var acked, shown int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE action = 'rectification-ack' AND message_id = $2),
			count(*) FILTER (WHERE action = 'rectifications') FROM audit WHERE actor = 'console:alice' AND legal_basis = $1`,
			store.LegalBasisRectification, item.MessageID).Scan(&acked, &shown))
		assert.Equal(t, 1, acked)
		assert.Equal(t, 5, shown, "every listing of the corrections")
	})
	t.Run("a doubtful identity match is shown with both persons and decided, audited under the account", func(t *testing.T) {
		code, body := b.do(http.MethodGet, r.base+"identities", nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "No review open.")
		code, body = b.do(http.MethodGet, r.base+"identities?status=bogus", nil)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, body, "status must be open, linked, apart or all")

		// Person 1's name and birth date, another APPI file: not merged by the hub.
		twin := personOf(1)
		twin.Identifiers.AppiFileNumber = "2019099999"
		r.appendLine(personMeasureLine(t, twin, "M-31-2024-000999", 1, canonical.MeasureSP, "EN_COURS", "2024-03-01", ""))
		r.waitDelivered(7)
		known, ok, err := st.FindPerson(t.Context(), "APPI", personOf(1).Identifiers.AppiFileNumber)
		require.NoError(t, err)
		require.True(t, ok)
		created, ok, err := st.FindPerson(t.Context(), "APPI", "2019099999")
		require.NoError(t, err)
		require.True(t, ok)
		require.NotEqual(t, known, created, "kept apart until a human decides")

		code, body = b.do(http.MethodGet, r.base+"identities", nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "same name and birth date, different APPI identifiers")
		assert.Contains(t, body, `href="/console/journal/`+known+`"`)
		assert.Contains(t, body, `href="/console/journal/`+created+`"`)
		assert.Contains(t, body, "APPI "+personOf(1).Identifiers.AppiFileNumber)
		assert.Contains(t, body, "APPI 2019099999")
		reviews, err := st.ListIdentityReviews(t.Context(), store.ReviewOpen)
		require.NoError(t, err)
		require.Len(t, reviews, 1)
		id := itoa(reviews[0].ID)
		assert.Contains(t, body, `action="/console/identities/`+id+`/linked"`)

		code, _ = b.do(http.MethodPost, r.base+"identities/"+id+"/linked", url.Values{"csrf": {"forged"}})
		assert.Equal(t, http.StatusForbidden, code, "a form without the session's token is refused")
		code, body = b.do(http.MethodPost, r.base+"identities/"+id+"/linked", url.Values{"csrf": {b.csrf}, "back": {"/console/identities"}})
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "Review "+id+": one person.")
		assert.Contains(t, body, "No review open.")
		now, ok, err := st.FindPerson(t.Context(), "APPI", "2019099999")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, known, now, "the new file's identifier leads to the known person")
		code, body = b.do(http.MethodPost, r.base+"identities/"+id+"/apart", url.Values{"csrf": {b.csrf}, "back": {"/console/identities?status=all"}})
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "Not done: ")
		assert.Contains(t, body, "already decided")
		assert.Contains(t, body, `<span class="state linked">linked</span>`)
		assert.Contains(t, body, "console:alice")

		var decided, shown int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE action = 'identity-linked'),
			count(*) FILTER (WHERE action = 'identity-reviews') FROM audit WHERE actor = 'console:alice' AND legal_basis = $1`,
			store.LegalBasisAccuracy).Scan(&decided, &shown))
		assert.Equal(t, 1, decided)
		assert.Equal(t, 4, shown, "every listing of identifiers")
	})
	t.Run("a clerk sees the receipts page only", func(t *testing.T) {
		c := newBrowser(t)
		c.login(r.base, "greffe")
		code, body := c.do(http.MethodGet, r.base+"receipts", nil)
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "Receipts")
		code, _ = c.do(http.MethodGet, r.base+"journal?kind=ecrou&q="+ecrou, nil)
		assert.Equal(t, http.StatusForbidden, code)
		code, _ = c.do(http.MethodGet, r.base+"quarantine", nil)
		assert.Equal(t, http.StatusForbidden, code)
		code, _ = c.do(http.MethodGet, r.base+"identities", nil)
		assert.Equal(t, http.StatusForbidden, code)
		code, _ = c.do(http.MethodGet, r.base+"rectifications", nil)
		assert.Equal(t, http.StatusForbidden, code)
		code, body = c.do(http.MethodGet, r.base+"receipts?connector=appi-export&caller=TJ-TOULOUSE&id=6f1c2a52-3b1e-4c47-9d55-0f0c1b9a7e10", nil)
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "No such receipt for this court.")

		// A receipt as a push intake records it, for one of the delivered facts.
		persons, err := st.PersonsByIdentifier(t.Context(), "APPI", appiFile, false)
		require.NoError(t, err)
		require.Len(t, persons, 1)
		facts, err := st.PersonJournal(t.Context(), persons[0], 10)
		require.NoError(t, err)
		f := facts[len(facts)-1]
		rid := uuid.New()
		require.NoError(t, pgx.BeginFunc(t.Context(), st.Pool(), func(tx pgx.Tx) error {
			_, err := st.InsertReceipt(t.Context(), tx, store.NewReceipt{ID: rid, Connector: "appi-export", Caller: "TJ-TOULOUSE",
				Messages: []store.ReceiptMessage{{MessageID: f.MessageID, Outcome: store.ReceiptAccepted,
					Fact: &canonical.FactID{System: f.FactSystem, Ref: f.FactRef, Version: f.FactVersion}}}})
			return err
		}))
		code, body = c.do(http.MethodGet, r.base+"receipts?connector=appi-export&caller=TJ-TOULOUSE&id="+rid.String(), nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "Receipt "+rid.String())
		assert.Contains(t, body, `<span class="state accepted">accepted</span>`)
		assert.Contains(t, body, `<span class="delivery delivered">archive: delivered</span>`)
		code, body = c.do(http.MethodGet, r.base+"receipts?connector=appi-export&caller=TJ-LYON&id="+rid.String(), nil)
		require.Equal(t, http.StatusOK, code)
		assert.Contains(t, body, "No such receipt for this court.", "another court cannot read it")
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestAccountFile(t *testing.T) {
	line, err := console.AccountLine("alice", password, console.RoleOperator)
	require.NoError(t, err)
	la, err := console.ReadAccounts(strings.NewReader("# comment\n\n" + line + "\n"))
	require.NoError(t, err)
	acc, err := la.Authenticate(t.Context(), "alice", password)
	require.NoError(t, err)
	assert.Equal(t, console.Account{Name: "alice", Role: console.RoleOperator}, acc)
	_, err = la.Authenticate(t.Context(), "alice", "nope")
	require.ErrorIs(t, err, console.ErrBadCredentials)
	_, err = la.Authenticate(t.Context(), "bob", password)
	require.ErrorIs(t, err, console.ErrBadCredentials)
	for _, bad := range []string{"alice:plaintext", "alice", line + "\n" + line, "x y:" + strings.Split(line, ":")[1], line + ":admin"} {
		_, err := console.ReadAccounts(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
	_, err = console.AccountLine("alice", "short", console.RoleOperator)
	assert.Error(t, err)
}
