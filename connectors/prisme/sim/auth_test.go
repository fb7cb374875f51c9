package sim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"passerelle/connectors/prisme/sim"
)

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t)

	t.Run("a client authenticates with form fields or with HTTP Basic", func(t *testing.T) {
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
			cfg := clientcredentials.Config{ClientID: writerID, ClientSecret: writerSecret,
				TokenURL: e.ts.URL + "/oauth/token", AuthStyle: style}
			tok, err := cfg.Token(context.WithValue(t.Context(), oauth2.HTTPClient, e.ts.Client()))
			require.NoError(t, err)
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.Len(t, tok.AccessToken, 43, "32 random bytes, base64url")
			assert.Equal(t, float64(3600), tok.Extra("expires_in"))
			assert.Equal(t, "flux.ecriture flux.lecture", tok.Extra("scope"), "no scope asked: every scope granted")
		}
	})

	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name     string
		form     url.Values
		basic    []string
		ctype    string
		status   int
		oauthErr string
	}{
		{"a grant other than client_credentials answers unsupported_grant_type",
			form("grant_type", "password", "client_id", writerID, "client_secret", writerSecret), nil, "", 400, "unsupported_grant_type"},
		{"a missing grant_type answers invalid_request",
			form("client_id", writerID, "client_secret", writerSecret), nil, "", 400, "invalid_request"},
		{"a scope the client was not granted answers invalid_scope",
			form("grant_type", "client_credentials", "client_id", readerID, "client_secret", readerSecret, "scope", "flux.ecriture"), nil, "", 400, "invalid_scope"},
		{"an unknown scope answers invalid_scope",
			form("grant_type", "client_credentials", "client_id", writerID, "client_secret", writerSecret, "scope", "admin"), nil, "", 400, "invalid_scope"},
		{"a JSON token request answers invalid_request",
			form("grant_type", "client_credentials"), nil, "application/json", 400, "invalid_request"},
		{"two authentication methods at once answer invalid_request",
			form("grant_type", "client_credentials", "client_secret", writerSecret), []string{writerID, writerSecret}, "", 400, "invalid_request"},
		{"a wrong secret answers 401",
			form("grant_type", "client_credentials", "client_id", writerID, "client_secret", "nope"), nil, "", 401, ""},
		{"a wrong secret with HTTP Basic answers 401",
			form("grant_type", "client_credentials"), []string{writerID, "nope"}, "", 401, ""},
		{"an unknown client answers 401",
			form("grant_type", "client_credentials", "client_id", "inconnu", "client_secret", "x"), nil, "", 401, ""},
		{"no client at all answers 401",
			form("grant_type", "client_credentials"), nil, "", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.ts.URL+"/oauth/token",
				strings.NewReader(tc.form.Encode()))
			require.NoError(t, err)
			ct := tc.ctype
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			if tc.basic != nil {
				req.SetBasicAuth(tc.basic[0], tc.basic[1])
			}
			r := do(t, e.ts.Client(), req)
			require.Equal(t, tc.status, r.status, "body: %s", r.body)
			if tc.status == http.StatusBadRequest {
				assert.Equal(t, "application/json", r.header.Get("Content-Type"), "RFC 6749 error object, not problem details")
				var oe struct {
					Error string `json:"error"`
				}
				require.NoError(t, json.Unmarshal(r.body, &oe))
				assert.Equal(t, tc.oauthErr, oe.Error)
				return
			}
			r.problem(t)
			if tc.basic != nil {
				assert.Equal(t, `Basic realm="prisme"`, r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestBearerTokens(t *testing.T) {
	t.Run("a token works until it expires, then answers 401 invalid_token", func(t *testing.T) {
		e := newEnv(t)
		tok := e.token(t, writerID, writerSecret)
		call := func() reply {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.ts.URL+"/api/v1/evenements", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			return do(t, e.ts.Client(), req)
		}
		require.Equal(t, http.StatusOK, call().status)
		e.clock.Advance(time.Hour - time.Second)
		require.Equal(t, http.StatusOK, call().status, "one second before expiry")
		e.clock.Advance(time.Second)
		r := call()
		require.Equal(t, http.StatusUnauthorized, r.status)
		assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`),
			r.header.Get("WWW-Authenticate"))
		r.problem(t)
	})

	t.Run("revoked tokens answer 401 invalid_token and a new token works", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		require.Equal(t, http.StatusCreated, e.post(t, c, sim.FichePenale, "k1", fiche("1", "NCY01", 1, dupont())).status)
		assert.Equal(t, 1, e.srv.RevokeTokens())
		r := e.post(t, c, sim.FichePenale, "k2", fiche("1", "NCY01", 2, dupont()))
		require.Equal(t, http.StatusUnauthorized, r.status, "the client still holds its cached token")
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)
		assert.Equal(t, http.StatusCreated, e.post(t, e.writer(t), sim.FichePenale, "k2", fiche("1", "NCY01", 2, dupont())).status,
			"a 401 is not remembered under the key: the same key succeeds with a new token")
	})

	t.Run("an unknown token answers 401 invalid_token, no token answers 401 without an error code", func(t *testing.T) {
		e := newEnv(t)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.ts.URL+"/api/v1/evenements", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer pas-un-jeton")
		r := do(t, e.ts.Client(), req)
		require.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)

		r = e.get(t, e.ts.Client(), "/api/v1/evenements")
		require.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, `Bearer realm="prisme"`, r.header.Get("WWW-Authenticate"))
		r.problem(t)
	})

	t.Run("a token without the endpoint's scope answers 403", func(t *testing.T) {
		e := newEnv(t)
		r := e.post(t, e.oauthClient(t, readerID, readerSecret), sim.FichePenale, "k", fiche("1", "NCY01", 1, dupont()))
		require.Equal(t, http.StatusForbidden, r.status)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
		r.problem(t)

		r = e.get(t, e.oauthClient(t, otherID, otherSecret), "/api/v1/evenements")
		require.Equal(t, http.StatusForbidden, r.status)
		r.problem(t)

		r = e.get(t, e.oauthClient(t, writerID, writerSecret, sim.ScopeEcriture), "/api/v1/evenements")
		require.Equal(t, http.StatusForbidden, r.status, "a token asked with a narrower scope lacks flux.lecture")
		assert.Empty(t, e.srv.History(sim.FichePenale), "a refused request stores nothing")
	})
}
