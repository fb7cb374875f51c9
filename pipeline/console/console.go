package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is served on the hub's HTTP server.
const Prefix = "/console/"

// Options configure a Console.
type Options struct {
	// Auth says who signs in. Required.
	Auth Authenticator
	// Log receives the console's technical log (never a person's data).
	Log *zap.Logger
	// SessionTTL is how long a sign-in lasts. Default 8h.
	SessionTTL time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Console is the web console: server-rendered pages over a running hub.
type Console struct {
	auth     Authenticator
	log      *zap.Logger
	now      func() time.Time
	sessions *sessions
	pages    map[string]*template.Template
	run      *pipeline.Running
}

// New makes a console; it parses its embedded templates.
func New(opts Options) (*Console, error) {
	if opts.Auth == nil {
		return nil, errors.New("console: an authenticator is required")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Console{auth: opts.Auth, log: opts.Log, now: opts.Now, pages: map[string]*template.Template{},
		sessions: &sessions{ttl: opts.SessionTTL, m: map[string]*session{}}}
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Local().Format("2006-01-02 15:04:05")
		},
		"day":    func(t time.Time) string { return t.Local().Format("2006-01-02") },
		"join":   strings.Join,
		"typeOf": typeLabel,
		"list":   func(s ...string) []string { return s },
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", base, err)
		}
		c.pages[base] = t
	}
	return c, nil
}

// Mount registers the console's handlers on the hub's mux (pipeline.Hub.Mount).
func (c *Console) Mount(mux *http.ServeMux, run *pipeline.Running) {
	c.run = run
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+Prefix+"login", c.loginPage)
	mux.HandleFunc("POST "+Prefix+"login", c.login)
	mux.HandleFunc("GET "+Prefix+"login/callback", c.callback)
	mux.HandleFunc("POST "+Prefix+"logout", c.logout)
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, Prefix, http.StatusFound) })

	mux.HandleFunc("GET "+Prefix+"{$}", c.page(RoleOperator, c.overview))
	mux.HandleFunc("POST "+Prefix+"routes/{name}/{act}", c.action(RoleOperator, c.routeAction))
	mux.HandleFunc("POST "+Prefix+"sources/{name}/{act}", c.action(RoleOperator, c.sourceAction))
	mux.HandleFunc("GET "+Prefix+"quarantine", c.page(RoleOperator, c.quarantine))
	mux.HandleFunc("POST "+Prefix+"quarantine/{id}/replay", c.action(RoleOperator, c.replay))
	mux.HandleFunc("GET "+Prefix+"journal", c.page(RoleOperator, c.journalSearch))
	mux.HandleFunc("GET "+Prefix+"journal/{person}", c.page(RoleOperator, c.journal))
	mux.HandleFunc("GET "+Prefix+"receipts", c.page(RoleClerk, c.receipts))
	mux.HandleFunc("GET "+Prefix+"identities", c.page(RoleOperator, c.identities))
	mux.HandleFunc("POST "+Prefix+"identities/{id}/{decision}", c.action(RoleOperator, c.decideIdentity))
	mux.HandleFunc("GET "+Prefix+"rectifications", c.page(RoleOperator, c.rectifications))
	mux.HandleFunc("POST "+Prefix+"rectifications/{message}/{destination}/ack", c.action(RoleOperator, c.ackRectification))

	// The API: the same state and controls for scripts and curl, with HTTP Basic
	// (no cookie, so no cross-site request can use it) or a browser's session for GET.
	mux.HandleFunc("GET "+Prefix+"api/routes", c.api(RoleOperator, c.apiRoutes))
	mux.HandleFunc("POST "+Prefix+"api/routes/{name}/{act}", c.api(RoleOperator, c.apiControl(pipeline.ControlRoute)))
	mux.HandleFunc("POST "+Prefix+"api/sources/{name}/{act}", c.api(RoleOperator, c.apiControl(pipeline.ControlSource)))
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	Account Account
	CSRF    string
	Flash   string
	Error   string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, status int, name string, v view) {
	t := c.pages[name]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", v); err != nil {
		c.log.Error("console: render", zap.String("page", name), zap.Error(err))
	}
}

func allowed(a Account, role string) bool { return a.Role == RoleOperator || a.Role == role }

type pageFunc func(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error)

// page serves a page to a signed-in account with role.
func (c *Console) page(role string, f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := c.sessions.get(r)
		if !ok {
			http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		if !allowed(sess.account, role) {
			if role == RoleOperator && sess.account.Role == RoleClerk && r.URL.Path == Prefix {
				http.Redirect(w, r, Prefix+"receipts", http.StatusFound)
				return
			}
			c.render(w, http.StatusForbidden, "error", view{Title: "Not allowed", Account: sess.account, CSRF: sess.csrf,
				Error: "Your account may not open this page."})
			return
		}
		name, v, err := f(w, r, sess)
		if name == "" {
			return // the handler answered (a redirect)
		}
		v.Account, v.CSRF = sess.account, sess.csrf
		v.Flash = r.URL.Query().Get("flash")
		status := http.StatusOK
		var bad badRequest
		switch {
		case errors.As(err, &bad):
			v.Error, status = bad.Error(), http.StatusBadRequest
		case err != nil:
			c.log.Warn("console: page", zap.String("page", name), zap.Error(err))
			v.Error, status = userError(err), http.StatusInternalServerError
		}
		c.render(w, status, name, v)
	}
}

type actionFunc func(r *http.Request, sess *session) (flash string, err error)

// action runs a form's POST for a signed-in account with role, checking its CSRF
// token, then goes back to the page it came from with the outcome.
func (c *Console) action(role string, f actionFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := c.sessions.get(r)
		if !ok || !validCSRF(sess, r) || !allowed(sess.account, role) {
			http.Error(w, "forbidden: sign in again", http.StatusForbidden)
			return
		}
		flash, err := f(r, sess)
		if err != nil {
			c.log.Warn("console: action", zap.String("path", r.URL.Path), zap.Error(err))
			flash = "Not done: " + userError(err)
		}
		back := r.PostFormValue("back")
		if !strings.HasPrefix(back, Prefix) || strings.HasPrefix(back, "//") {
			back = Prefix
		}
		u, _ := url.Parse(back)
		q := u.Query()
		q.Set("flash", flash)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusSeeOther) //nolint:gosec // back is checked above to be a path under /console/ on this server.
	}
}

// badRequest is a page's answer to a query it cannot take (a filter out of its
// values): shown to the operator with status 400, not logged as the hub's failure.
type badRequest struct{ error }

// userError is an error as the console shows it: the hub's own errors carry no
// personal data (they are written so), but a database error's text stays in the log.
func userError(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "SQLSTATE") || strings.Contains(msg, "connect") {
		return "the database could not answer; see the hub's log"
	}
	return msg
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if rd, ok := c.auth.(Redirector); ok {
		state := newToken()
		//nolint:gosec // HttpOnly and SameSite are set; Secure follows the connection (the demo is plain HTTP on loopback).
		http.SetCookie(w, &http.Cookie{Name: "passerelle_state", Value: state, Path: Prefix + "login", HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: 600})
		http.Redirect(w, r, rd.LoginURL(state), http.StatusFound)
		return
	}
	c.render(w, http.StatusOK, "login", view{Title: "Sign in", Data: map[string]string{"Next": r.URL.Query().Get("next")}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	acc, err := c.auth.Authenticate(r.Context(), name, password)
	if err != nil {
		c.log.Info("console: sign-in refused")
		c.render(w, http.StatusUnauthorized, "login", view{Title: "Sign in", Error: "Unknown account or wrong password.",
			Data: map[string]string{"Next": r.PostFormValue("next")}})
		return
	}
	c.signIn(w, r, acc, r.PostFormValue("next"))
}

func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	rd, ok := c.auth.(Redirector)
	st, err := r.Cookie("passerelle_state")
	if !ok || err != nil {
		http.Error(w, "no sign-in in progress", http.StatusBadRequest)
		return
	}
	acc, err := rd.Callback(r, st.Value)
	if err != nil {
		c.log.Info("console: sign-in refused by the identity provider", zap.Error(err))
		http.Error(w, "sign-in refused", http.StatusUnauthorized)
		return
	}
	c.signIn(w, r, acc, "")
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request, acc Account, next string) {
	c.sessions.start(w, r, acc)
	_ = c.run.Store.Audit(r.Context(), store.AuditEntry{Actor: acc.Actor(), Action: "console-sign-in", Outcome: "signed-in"})
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") {
		next = Prefix
	}
	http.Redirect(w, r, next, http.StatusSeeOther) //nolint:gosec // next is checked above to be a path under /console/ on this server.
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if sess, ok := c.sessions.get(r); ok && validCSRF(sess, r) {
		c.sessions.end(w, r)
	}
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// Overview is the routes page's data.
type Overview struct {
	Routes     []pipeline.RouteState
	Sources    []pipeline.SourceState
	Stopped    map[string]string
	Backlog    store.Backlog
	Quarantine int64
	Ready      bool
}

func (c *Console) overviewData(ctx context.Context) (Overview, error) {
	var o Overview
	controls, err := c.run.Store.Controls(ctx)
	if err != nil {
		return o, err
	}
	o.Stopped = c.run.Stopped()
	if o.Routes, err = pipeline.RouteStates(ctx, c.run.Store, c.run.Routing, controls, o.Stopped, true); err != nil {
		return o, err
	}
	if o.Sources, err = pipeline.SourceStates(ctx, c.run.Store, c.run.Sources, controls); err != nil {
		return o, err
	}
	if o.Backlog, err = c.run.Store.Backlog(ctx); err != nil {
		return o, err
	}
	counts, err := c.run.Store.QuarantineCounts(ctx)
	if err != nil {
		return o, err
	}
	for _, q := range counts {
		o.Quarantine += q.Open
	}
	o.Ready = len(o.Stopped) == 0
	return o, nil
}

func (c *Console) overview(_ http.ResponseWriter, r *http.Request, _ *session) (string, view, error) {
	o, err := c.overviewData(r.Context())
	return "overview", view{Title: "Routes", Nav: "routes", Data: o}, err
}

func (c *Console) control(ctx context.Context, kind, name, act, reason string, acc Account) (string, error) {
	known := false
	if kind == pipeline.ControlRoute {
		known = c.run.Routing.Route(name) != nil
	} else {
		for _, s := range c.run.Sources {
			known = known || s == name
		}
	}
	if !known {
		return "", fmt.Errorf("%s %q: %w", kind, name, pipeline.ErrUnknownControl)
	}
	switch act {
	case "pause", "resume":
		changed, err := c.run.Controls.Set(ctx, kind, name, act == "pause", reason, acc.Actor())
		if err != nil {
			return "", err
		}
		if !changed {
			return fmt.Sprintf("%s %s was already %sd.", initial(kind), name, act), nil
		}
		return fmt.Sprintf("%s %s %sd.", initial(kind), name, act), nil
	default:
		return "", fmt.Errorf("unknown action %q", act)
	}
}

func initial(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func (c *Console) routeAction(r *http.Request, sess *session) (string, error) {
	return c.control(r.Context(), pipeline.ControlRoute, r.PathValue("name"), r.PathValue("act"), r.PostFormValue("reason"), sess.account)
}

func (c *Console) sourceAction(r *http.Request, sess *session) (string, error) {
	name, act := r.PathValue("name"), r.PathValue("act")
	if act == "checkpoint" {
		pos := strings.TrimSpace(r.PostFormValue("position"))
		if pos == "" {
			return "", errors.New("give the position to reset the checkpoint to")
		}
		prev, err := pipeline.ResetCheckpoint(r.Context(), c.run.Store, name, pos, sess.account.Actor(), 10*time.Second)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Source %s: checkpoint %q reset to %q; resume it to read from there.", name, prev, pos), nil
	}
	return c.control(r.Context(), pipeline.ControlSource, name, act, r.PostFormValue("reason"), sess.account)
}

// QuarantinePage is the quarantine page's data.
type QuarantinePage struct {
	Filter     store.QuarantineFilter
	Items      []store.QuarantineItem
	Stages     []string
	Connectors []string
	Back       string
}

func (c *Console) quarantine(_ http.ResponseWriter, r *http.Request, _ *session) (string, view, error) {
	q := r.URL.Query()
	f := store.QuarantineFilter{Status: q.Get("status"), Stage: q.Get("stage"), Connector: q.Get("connector"), Reason: q.Get("reason"), Limit: 200}
	if f.Status == "" {
		f.Status = "open"
	}
	p := QuarantinePage{Filter: f, Stages: []string{"decode", "map", "validate", "ingest", "publish", "deliver"}, Back: r.URL.RequestURI()}
	items, err := c.run.Store.ListQuarantine(r.Context(), f)
	p.Items = items
	seen := map[string]bool{}
	for _, s := range c.run.Sources {
		seen[s] = true
	}
	for _, rt := range c.run.Routing.Routes() {
		seen[rt.Destination] = true
	}
	for s := range seen {
		p.Connectors = append(p.Connectors, s)
	}
	sort.Strings(p.Connectors)
	return "quarantine", view{Title: "Quarantine", Nav: "quarantine", Data: p}, err
}

func (c *Console) replay(r *http.Request, sess *session) (string, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", errors.New("not a quarantine id")
	}
	q, err := c.run.Store.QuarantineByID(r.Context(), id)
	if err != nil {
		return "", err
	}
	res, err := c.run.Replayer.Replay(r.Context(), q, sess.account.Actor())
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("Quarantine %d replayed: %s.", id, res.Outcome)
	if res.Requarantined != 0 {
		msg += fmt.Sprintf(" It failed again: now quarantine %d.", res.Requarantined)
	}
	return msg, nil
}

// IdentitiesPage is the identity reviews page's data.
type IdentitiesPage struct {
	Status   string
	Statuses []string
	Reviews  []store.IdentityReview
	Back     string
}

// identities lists the doubtful identity matches of a status (open by default), with
// what an operator needs to decide each: both persons' identifiers, their facts, the
// facts held. Showing identifiers is access to personal data: it is audited first.
func (c *Console) identities(_ http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = store.ReviewOpen
	}
	p := IdentitiesPage{Status: status, Statuses: []string{store.ReviewOpen, store.ReviewLinked, store.ReviewApart, "all"}, Back: r.URL.RequestURI()}
	v := view{Title: "Identities", Nav: "identities", Data: p}
	if !slices.Contains(p.Statuses, status) {
		return "identities", v, badRequest{errors.New("status must be open, linked, apart or all")}
	}
	reviews, err := c.run.Store.ListIdentityReviews(r.Context(), status)
	if err != nil {
		return "identities", v, err
	}
	ids := make([]string, len(reviews))
	for i, rv := range reviews {
		ids[i] = strconv.FormatInt(rv.ID, 10)
	}
	if err := c.run.Store.Audit(r.Context(), store.AuditEntry{Actor: sess.account.Actor(), Action: "identity-reviews", Outcome: "shown",
		LegalBasis: store.LegalBasisAccuracy, Reference: "identity-reviews:" + status + " ids:" + strings.Join(ids, ",")}); err != nil {
		return "identities", v, fmt.Errorf("the reviews could not be audited, so they are not shown: %w", err)
	}
	p.Reviews = reviews
	v.Data = p
	return "identities", v, nil
}

// decideIdentity records an operator's decision on a review (link or apart), audited
// under the account, then releases the facts that waited for it.
func (c *Console) decideIdentity(r *http.Request, sess *session) (string, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", errors.New("not a review number")
	}
	decision := r.PathValue("decision")
	if decision != store.ReviewLinked && decision != store.ReviewApart {
		return "", errors.New("the decision must be linked or apart")
	}
	n, err := c.run.Replayer.DecideIdentity(r.Context(), id, decision, sess.account.Actor())
	if err != nil && !errors.Is(err, pipeline.ErrRelease) {
		return "", err
	}
	msg := fmt.Sprintf("Review %d: one person.", id)
	if decision == store.ReviewApart {
		msg = fmt.Sprintf("Review %d: two people, kept apart.", id)
	}
	if n > 0 {
		msg += fmt.Sprintf(" %d held fact(s) released.", n)
	}
	if err != nil {
		c.log.Warn("console: releasing held facts", zap.Int64("review", id), zap.Error(err))
		msg += " Releasing the held facts failed: the hub releases them within seconds."
	}
	return msg, nil
}

// RectificationsPage is the corrections page's data.
type RectificationsPage struct {
	Person string // one person's id, or empty for everyone
	Items  []store.Rectification
	Limit  int
	Back   string
}

// rectificationsLimit bounds the corrections one page lists.
const rectificationsLimit = 500

// rectifications lists the corrections still owed (Directive (UE) 2016/680, art. 16):
// each destination that acknowledged an older version of a fact and not yet its
// newest, oldest first, for everyone or for one person (?person=ID). The list names
// persons and their facts: it is audited before it is shown.
func (c *Console) rectifications(_ http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	person := strings.TrimSpace(r.URL.Query().Get("person"))
	p := RectificationsPage{Person: person, Limit: rectificationsLimit, Back: r.URL.RequestURI()}
	v := view{Title: "Rectifications", Nav: "rectifications", Data: p}
	scope := "all"
	if person != "" {
		// A person id, never a name: what was asked goes into the audit.
		if _, err := uuid.Parse(person); err != nil {
			p.Person, p.Back = "", Prefix+"rectifications"
			v.Data = p
			return "rectifications", v, badRequest{errors.New("the person must be given by canonical person id (a UUID, as the journal shows it)")}
		}
		scope = "person:" + person
	}
	items, err := c.run.Store.PendingRectifications(r.Context(), person, rectificationsLimit)
	if err != nil {
		return "rectifications", v, err
	}
	if err := c.run.Store.Audit(r.Context(), store.AuditEntry{Actor: sess.account.Actor(), Action: "rectifications", Outcome: "shown",
		LegalBasis: store.LegalBasisRectification, Reference: "rectifications:" + scope + " rows:" + strconv.Itoa(len(items))}); err != nil {
		return "rectifications", v, fmt.Errorf("the corrections could not be audited, so they are not shown: %w", err)
	}
	p.Items = items
	v.Data = p
	return "rectifications", v, nil
}

// ackRectification records that the operator carried a correction to a destination
// outside the flow (a destination no route names any more, a letter): it leaves the
// list, and the audit says who did it.
func (c *Console) ackRectification(r *http.Request, sess *session) (string, error) {
	id, err := uuid.Parse(r.PathValue("message"))
	if err != nil {
		return "", errors.New("not a message id")
	}
	dest := r.PathValue("destination")
	if err := c.run.Store.AckRectification(r.Context(), id, dest, sess.account.Actor()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", errors.New("no correction of this message is pending at " + dest)
		}
		return "", err
	}
	return "Correction recorded as carried to " + dest + " by " + sess.account.Actor() + ".", nil
}

// Search kinds of the journal, with the identities system they look in.
var searchKinds = []struct{ Key, Label, System string }{
	{"ecrou", "Numéro d'écrou (GENESIS)", pipeline.IDEcrou},
	{"appi", "Numéro de dossier APPI", pipeline.IDAppi},
	{"parquet", "Numéro parquet (Cassiopée)", ""},
	{"prisme", "dossierId PRISME", pipeline.IDPrisme},
}

// SearchPage is the journal search page's data.
type SearchPage struct {
	Kinds   any
	Kind    string
	Value   string
	Persons []PersonHit
	Done    bool
}

// PersonHit is a person a search found, with the identifiers that tell them apart.
type PersonHit struct {
	ID          string
	Identifiers []store.Identifier
}

func (c *Console) journalSearch(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	q := r.URL.Query()
	p := SearchPage{Kinds: searchKinds, Kind: q.Get("kind"), Value: strings.TrimSpace(q.Get("q"))}
	if p.Kind == "" {
		p.Kind = "ecrou"
	}
	v := view{Title: "Journal", Nav: "journal", Data: &p}
	if p.Value == "" {
		return "search", v, nil
	}
	p.Done = true
	ctx := r.Context()
	var persons []string
	var err error
	system := ""
	for _, k := range searchKinds {
		if k.Key == p.Kind {
			system = k.System
		}
	}
	switch {
	case p.Kind == "parquet":
		persons, err = c.run.Store.PersonsByProsecutionNumber(ctx, p.Value)
	case system != "":
		persons, err = c.run.Store.PersonsByIdentifier(ctx, system, p.Value, system == pipeline.IDEcrou)
	default:
		return "search", v, errors.New("unknown kind of identifier")
	}
	if err != nil {
		return "search", v, err
	}
	// Every lookup is audited before anything is shown: who looked, by which kind of
	// identifier, and which persons (canonical ids) it showed.
	ref := "search:" + p.Kind
	if len(persons) > 0 {
		ref += " persons:" + strings.Join(persons, ",")
	}
	outcome := fmt.Sprintf("found %d", len(persons))
	if err := c.run.Store.Audit(ctx, store.AuditEntry{Actor: sess.account.Actor(), Action: "person-lookup", Outcome: outcome, Reference: ref}); err != nil {
		return "search", view{Title: "Journal", Nav: "journal"}, fmt.Errorf("the lookup could not be audited, so it is not shown: %w", err)
	}
	if len(persons) == 1 {
		http.Redirect(w, r, Prefix+"journal/"+url.PathEscape(persons[0])+"?audited=1", http.StatusFound)
		return "", v, nil
	}
	for _, id := range persons {
		ids, err := c.run.Store.PersonIdentifiers(ctx, id)
		if err != nil {
			return "search", v, err
		}
		p.Persons = append(p.Persons, PersonHit{ID: id, Identifiers: visibleIdentifiers(ids)})
	}
	return "search", v, nil
}

// visibleIdentifiers drops the hashed name + birth-date keys, which mean nothing to a
// person and are not identifiers of any system.
func visibleIdentifiers(ids []store.Identifier) []store.Identifier {
	var out []store.Identifier
	for _, id := range ids {
		if id.System != pipeline.IDPersonKey {
			out = append(out, id)
		}
	}
	return out
}

func (c *Console) journal(_ http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	person := r.PathValue("person")
	v := view{Title: "Journal", Nav: "journal"}
	if _, err := uuid.Parse(person); err != nil {
		return "error", view{Title: "Journal", Error: "Not a person id."}, nil
	}
	ctx := r.Context()
	if err := c.run.Store.Audit(ctx, store.AuditEntry{Actor: sess.account.Actor(), Action: "person-journal", Outcome: "shown",
		Reference: "person:" + person}); err != nil {
		return "error", v, fmt.Errorf("the lookup could not be audited, so it is not shown: %w", err)
	}
	j, err := c.buildJournal(ctx, person)
	if err != nil {
		return "journal", v, err
	}
	j.Back = r.URL.Path
	v.Data = j
	return "journal", v, nil
}

// ReceiptsPage is the receipts page's data.
type ReceiptsPage struct {
	Connectors []string
	Connector  string
	Caller     string
	ID         string
	Receipt    *store.ReceiptView
	NotFound   bool
}

func (c *Console) receipts(_ http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	q := r.URL.Query()
	p := ReceiptsPage{Connector: q.Get("connector"), Caller: strings.TrimSpace(q.Get("caller")), ID: strings.TrimSpace(q.Get("id"))}
	p.Connectors = append(p.Connectors, c.run.Sources...)
	v := view{Title: "Receipts", Nav: "receipts", Data: &p}
	if p.ID == "" {
		return "receipts", v, nil
	}
	id, err := uuid.Parse(p.ID)
	if err != nil {
		p.NotFound = true
		return "receipts", v, nil
	}
	rv, err := c.run.Store.Receipt(r.Context(), p.Connector, p.Caller, id)
	if errors.Is(err, store.ErrNotFound) {
		p.NotFound = true
		err = nil
	} else if err == nil {
		p.Receipt = &rv
	}
	_ = c.run.Store.Audit(r.Context(), store.AuditEntry{Actor: sess.account.Actor(), Action: "receipt-lookup",
		Outcome: map[bool]string{true: "not found", false: "shown"}[p.NotFound], Reference: "receipt:" + id.String()})
	return "receipts", v, err
}

// apiAuth accepts HTTP Basic credentials, or for GET a browser's session.
func (c *Console) api(role string, f func(w http.ResponseWriter, r *http.Request, acc Account)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var acc Account
		if name, pw, ok := r.BasicAuth(); ok {
			a, err := c.auth.Authenticate(r.Context(), name, pw)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Basic realm="passerelle"`)
				http.Error(w, "unknown account or wrong password", http.StatusUnauthorized)
				return
			}
			acc = a
		} else if sess, ok := c.sessions.get(r); ok && r.Method == http.MethodGet {
			acc = sess.account
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="passerelle"`)
			http.Error(w, "sign in (HTTP Basic with a console account)", http.StatusUnauthorized)
			return
		}
		if !allowed(acc, role) {
			http.Error(w, "your account may not do this", http.StatusForbidden)
			return
		}
		f(w, r, acc)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiRoute is a route in the API's answer.
type apiRoute struct {
	Name        string   `json:"name"`
	Destination string   `json:"destination"`
	Types       []string `json:"types"`
	State       string   `json:"state"`
	Why         string   `json:"why,omitempty"`
	LegalBasis  string   `json:"legalBasis"`
	Pending     int64    `json:"pending"`
	Delivered   int64    `json:"delivered"`
	Superseded  int64    `json:"superseded"`
	Quarantined int64    `json:"quarantined"`
}

func (c *Console) apiRoutes(w http.ResponseWriter, r *http.Request, _ Account) {
	o, err := c.overviewData(r.Context())
	if err != nil {
		c.log.Warn("console: api routes", zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": userError(err)})
		return
	}
	routes := make([]apiRoute, 0, len(o.Routes))
	for _, rs := range o.Routes {
		routes = append(routes, apiRoute{rs.Name, rs.Destination, rs.Types, rs.State, rs.Why, rs.LegalBasis, rs.Counts.Pending,
			rs.Counts.Delivered, rs.Counts.Superseded, rs.Counts.Quarantined})
	}
	sources := make([]map[string]string, 0, len(o.Sources))
	for _, s := range o.Sources {
		sources = append(sources, map[string]string{"name": s.Name, "state": s.State, "why": s.Why, "checkpoint": s.Position})
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": routes, "sources": sources, "unpublished": o.Backlog.Unpublished,
		"unsettled": o.Backlog.Unsettled, "quarantineOpen": o.Quarantine, "stopped": o.Stopped})
}

func (c *Console) apiControl(kind string) func(w http.ResponseWriter, r *http.Request, acc Account) {
	return func(w http.ResponseWriter, r *http.Request, acc Account) {
		name, act := r.PathValue("name"), r.PathValue("act")
		var msg string
		var err error
		if kind == pipeline.ControlSource && act == "checkpoint" {
			var prev string
			pos := strings.TrimSpace(r.FormValue("position"))
			if pos == "" {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "position is required"})
				return
			}
			prev, err = pipeline.ResetCheckpoint(r.Context(), c.run.Store, name, pos, acc.Actor(), 10*time.Second)
			msg = fmt.Sprintf("checkpoint %q -> %q", prev, pos)
		} else {
			msg, err = c.control(r.Context(), kind, name, act, r.FormValue("reason"), acc)
		}
		switch {
		case errors.Is(err, pipeline.ErrUnknownControl):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusConflict, map[string]string{"error": userError(err)})
		default:
			writeJSON(w, http.StatusOK, map[string]string{"result": msg})
		}
	}
}
