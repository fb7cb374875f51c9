package sim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// token is an issued access token.
type token struct {
	clientID  string
	scopes    []string
	expiresAt time.Time
}

// tokenResponse is the 200 body of POST /oauth/token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// oauthError is the RFC 6749 section 5.2 error object of the token endpoint's 400.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// maxTokenForm bounds the token request body.
const maxTokenForm = 64 << 10

// handleToken is POST /oauth/token: client credentials, from form fields or HTTP Basic.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, rec *exchange) {
	s.delay(r, EndpointToken)
	if s.injectFailure(w, rec, EndpointToken) {
		return
	}
	badRequest := func(code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, rec, http.StatusBadRequest, oauthError{Error: code, ErrorDescription: desc})
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		badRequest("invalid_request", "corps attendu en application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
	if err := r.ParseForm(); err != nil {
		badRequest("invalid_request", "formulaire illisible")
		return
	}
	form := r.PostForm
	for _, name := range []string{"grant_type", "client_id", "client_secret", "scope"} {
		if len(form[name]) > 1 {
			badRequest("invalid_request", "paramètre répété : "+name)
			return
		}
	}
	basicID, basicSecret, hasBasic := r.BasicAuth()
	if hasBasic {
		// RFC 6749 2.3.1: the client id and secret are form-encoded before Basic.
		if v, err := url.QueryUnescape(basicID); err == nil {
			basicID = v
		}
		if v, err := url.QueryUnescape(basicSecret); err == nil {
			basicSecret = v
		}
	}
	switch grant := form.Get("grant_type"); {
	case grant == "":
		badRequest("invalid_request", "grant_type manquant")
		return
	case grant != "client_credentials":
		badRequest("unsupported_grant_type", "seul client_credentials est accepté")
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if hasBasic {
		if form.Has("client_secret") || (form.Has("client_id") && id != basicID) {
			badRequest("invalid_request", "une seule méthode d'authentification du client par requête")
			return
		}
		id, secret = basicID, basicSecret
	}
	client, ok := s.clients[id]
	if !ok || id == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(client.Secret)) != 1 {
		if hasBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="prisme"`)
		}
		writeProblem(w, rec, newProblem(http.StatusUnauthorized, "client-inconnu",
			"client inconnu ou secret incorrect"))
		return
	}
	scopes := slices.Clone(client.Scopes)
	if requested := strings.Fields(form.Get("scope")); len(requested) > 0 {
		scopes = scopes[:0]
		for _, sc := range requested {
			if !slices.Contains(client.Scopes, sc) {
				badRequest("invalid_scope", "portée inconnue ou non accordée à ce client")
				return
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	access, err := newOpaqueToken()
	if err != nil {
		writeProblem(w, rec, newProblem(http.StatusServiceUnavailable, "indisponible", "jeton impossible à générer"))
		return
	}
	now := s.now()
	s.mu.Lock()
	if len(s.tokens) >= 1024 {
		for k, t := range s.tokens {
			if !now.Before(t.expiresAt) {
				delete(s.tokens, k)
			}
		}
	}
	s.tokens[access] = token{clientID: id, scopes: scopes, expiresAt: now.Add(s.opts.TokenTTL)}
	s.tokensIssued++
	s.mu.Unlock()
	rec.ClientID = id
	expiresIn := int64(s.opts.TokenTTL / time.Second)
	if expiresIn < 1 {
		expiresIn = 1
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, rec, http.StatusOK, tokenResponse{AccessToken: access, TokenType: "Bearer",
		ExpiresIn: expiresIn, Scope: strings.Join(scopes, " ")})
}

// newOpaqueToken returns 32 random bytes, base64url.
func newOpaqueToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// authorize checks the bearer token and its scope; it answers 401 or 403 and returns
// false when the call may not proceed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rec *exchange, scope string) bool {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="prisme"`)
		writeProblem(w, rec, newProblem(http.StatusUnauthorized, "jeton-absent",
			"jeton d'accès absent : Authorization: Bearer <jeton> attendu"))
		return false
	}
	now := s.now()
	s.mu.Lock()
	t, ok := s.tokens[tok]
	if ok && !now.Before(t.expiresAt) {
		delete(s.tokens, tok)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate",
			`Bearer error="invalid_token", error_description="jeton inconnu, expire ou revoque"`)
		writeProblem(w, rec, newProblem(http.StatusUnauthorized, "jeton-invalide",
			"jeton inconnu, expiré ou révoqué : obtenir un nouveau jeton"))
		return false
	}
	rec.ClientID = t.clientID
	if !slices.Contains(t.scopes, scope) {
		w.Header().Set("WWW-Authenticate",
			`Bearer error="insufficient_scope", scope="`+scope+`"`)
		writeProblem(w, rec, newProblem(http.StatusForbidden, "portee-insuffisante",
			"le jeton n'a pas la portée "+scope))
		return false
	}
	return true
}

// RevokeTokens invalidates every token issued so far, as if they all expired early;
// the next call with one of them answers 401 invalid_token. It returns how many were
// still valid.
func (s *Server) RevokeTokens() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if now.Before(t.expiresAt) {
			n++
		}
	}
	s.tokens = map[string]token{}
	return n
}
