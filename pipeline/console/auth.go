package console

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Roles of console accounts.
const (
	// RoleOperator sees and does everything: routes, controls, quarantine, replay,
	// the per-person journal, receipts.
	RoleOperator = "operator"
	// RoleClerk (a court clerk, a SPIP secretariat) only looks up receipts.
	RoleClerk = "clerk"
)

// Account is a signed-in console user. Its name is the actor of the audit rows of
// everything it does ("console:<name>").
type Account struct {
	Name string
	Role string
}

// Actor is the account as the audit names it.
func (a Account) Actor() string { return "console:" + a.Name }

// ErrBadCredentials is returned for an unknown account or a wrong password (the two
// look alike to the caller).
var ErrBadCredentials = errors.New("console: unknown account or wrong password")

// Authenticator checks who signs in. The console keeps the sessions; an authenticator
// only says who someone is. LocalAccounts (a file of bcrypt hashes) is the demo's and
// small sites' one; a ministry deployment signs in through its identity provider with
// an authenticator that also implements Redirector (OIDC authorisation code flow:
// LoginURL sends the browser to the provider, Callback exchanges the code and maps
// the ID token's claims to an Account), and the console then shows no password form.
type Authenticator interface {
	// Authenticate checks a name and password (the login form, or HTTP Basic for the
	// API). It returns ErrBadCredentials when they do not match; an authenticator
	// without passwords returns ErrBadCredentials always.
	Authenticate(ctx context.Context, name, password string) (Account, error)
}

// Redirector is implemented by authenticators that sign users in elsewhere (OIDC).
type Redirector interface {
	// LoginURL is where the browser goes to sign in; state comes back to Callback.
	LoginURL(state string) string
	// Callback completes the sign-in from the provider's redirect to
	// /console/login/callback, checking that it carries state.
	Callback(r *http.Request, state string) (Account, error)
}

// LocalAccounts is an account file: one "name:bcrypt-hash[:role]" per line, '#'
// comments and blank lines ignored. The file holds hashes only; keep it out of the
// repository (the demo writes its own in a git-ignored folder).
type LocalAccounts struct {
	accounts map[string]localAccount
	// dummy is compared against for unknown names, so that they take as long as a
	// wrong password.
	dummy []byte
}

type localAccount struct {
	hash []byte
	role string
}

var accountNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// LoadAccounts reads an account file.
func LoadAccounts(path string) (*LocalAccounts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("console: accounts: %w", err)
	}
	defer func() { _ = f.Close() }()
	return ReadAccounts(f)
}

// ReadAccounts parses an account file's content.
func ReadAccounts(r io.Reader) (*LocalAccounts, error) {
	la := &LocalAccounts{accounts: map[string]localAccount{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("console: accounts line %d: want name:bcrypt-hash[:role]", n)
		}
		name, hash, role := parts[0], parts[1], RoleOperator
		if len(parts) == 3 {
			role = parts[2]
		}
		if !accountNameRE.MatchString(name) {
			return nil, fmt.Errorf("console: accounts line %d: name must be letters, digits, '.', '_' or '-'", n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("console: accounts line %d: not a bcrypt hash (make one with passerelle console add-account)", n)
		}
		if role != RoleOperator && role != RoleClerk {
			return nil, fmt.Errorf("console: accounts line %d: role must be %s or %s, not %q", n, RoleOperator, RoleClerk, role)
		}
		if _, dup := la.accounts[name]; dup {
			return nil, fmt.Errorf("console: accounts line %d: account %q is listed twice", n, name)
		}
		la.accounts[name] = localAccount{hash: []byte(hash), role: role}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("console: accounts: %w", err)
	}
	if len(la.accounts) == 0 {
		return nil, errors.New("console: accounts: the file lists no account")
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("console: accounts: %w", err)
	}
	la.dummy = dummy
	return la, nil
}

// Authenticate implements Authenticator.
func (la *LocalAccounts) Authenticate(_ context.Context, name, password string) (Account, error) {
	acc, ok := la.accounts[name]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(la.dummy, []byte(password))
		return Account{}, ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword(acc.hash, []byte(password)) != nil {
		return Account{}, ErrBadCredentials
	}
	return Account{Name: name, Role: acc.role}, nil
}

// AccountLine makes an account file line for name, password and role.
func AccountLine(name, password, role string) (string, error) {
	if !accountNameRE.MatchString(name) {
		return "", errors.New("console: account name must be letters, digits, '.', '_' or '-'")
	}
	if role != RoleOperator && role != RoleClerk {
		return "", fmt.Errorf("console: role must be %s or %s", RoleOperator, RoleClerk)
	}
	if len(password) < 8 {
		return "", errors.New("console: a password has at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("console: %w", err)
	}
	return name + ":" + string(h) + ":" + role, nil
}

// session is a signed-in browser.
type session struct {
	account Account
	csrf    string
	expires time.Time
}

// sessions are kept in this process's memory: a restart signs everyone out, and with
// several hub processes behind one address the balancer must keep a browser on one
// process (or the sessions move to PostgreSQL; nothing else changes).
type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*session
}

const sessionCookie = "passerelle_console"

func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *sessions) start(w http.ResponseWriter, r *http.Request, a Account) {
	tok := newToken()
	s.mu.Lock()
	now := time.Now()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[tok] = &session{account: a, csrf: newToken(), expires: now.Add(s.ttl)}
	s.mu.Unlock()
	//nolint:gosec // HttpOnly and SameSite=Strict are set; Secure follows the connection (the demo is plain HTTP on loopback; behind TLS it is set).
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/console/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(s.ttl.Seconds())})
}

func (s *sessions) get(r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[c.Value]
	if !ok || time.Now().After(sess.expires) {
		delete(s.m, c.Value)
		return nil, false
	}
	return sess, true
}

func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.m, c.Value)
		s.mu.Unlock()
	}
	//nolint:gosec // a deletion: the cookie carries nothing.
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
}

// validCSRF checks a form's token against the session's.
func validCSRF(sess *session, r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.csrf)) == 1
}
