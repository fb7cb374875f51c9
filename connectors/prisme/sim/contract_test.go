package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// openapiSchemas compiles any schema of the embedded OpenAPI document by JSON pointer,
// paths included, to check the simulator's answers against the contract's own words.
func openapiSchemas(t *testing.T) func(pointer string) *jsonschema.Schema {
	t.Helper()
	var doc any
	require.NoError(t, yaml.Unmarshal(OpenAPI, &doc))
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	require.NoError(t, c.AddResource("urn:test:openapi", value))
	return func(pointer string) *jsonschema.Schema {
		t.Helper()
		sch, err := c.Compile("urn:test:openapi#" + pointer)
		require.NoError(t, err, pointer)
		return sch
	}
}

// conforms checks an answer's body against a schema of the contract.
func conforms(t *testing.T, sch *jsonschema.Schema, resp *http.Response) {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err, "body: %s", b)
	require.NoError(t, sch.Validate(v), "body: %s", b)
}

func TestEmbeddedContractCompiles(t *testing.T) {
	cs, err := compileContract(OpenAPI)
	require.NoError(t, err)
	require.Len(t, cs.byKind, 4)
	_, err = compileContract([]byte("openapi: 3.1.0\n"))
	require.Error(t, err, "a document without components.schemas is refused")
}

func TestAnswersConformToTheContract(t *testing.T) {
	schema := openapiSchemas(t)
	const problem = "/components/responses/Problem/content/application~1problem+json/schema"
	token := "/paths/~1oauth~1token/post/responses/"
	s := New(Options{})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := ts.Client()
	send := func(method, path, ctype, bearer, key string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, bytes.NewReader(body))
		require.NoError(t, err)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		return resp
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID},
		"client_secret": {DefaultClientSecret}}.Encode()

	resp := send(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", "", "", []byte(form))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok tokenResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	_ = resp.Body.Close()
	conforms(t, schema(token+"200/content/application~1json/schema"),
		send(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", "", "", []byte(form)))
	conforms(t, schema(token+"400/content/application~1json/schema"),
		send(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", "", "", []byte("grant_type=password")))

	accuse := "/components/schemas/Accuse"
	body := []byte(`{"source":"APPI","version":1,"numeroMesure":"M1","typeMesure":"SP","juridiction":"TJ METZ",
		"dateDecision":"2025-01-02","statut":"EN_COURS","personne":{"nom":"N","prenoms":["P"],
		"dateNaissance":"1990-01-01","identifiants":{}}}`)
	resp = send(http.MethodPost, "/api/v1/mesures", "application/json", tok.AccessToken, "k", body)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	conforms(t, schema(accuse), resp)
	resp = send(http.MethodPost, "/api/v1/mesures", "application/json", tok.AccessToken, "k", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	conforms(t, schema(accuse), resp)
	for _, tc := range []struct {
		status int
		resp   *http.Response
	}{
		{http.StatusUnauthorized, send(http.MethodPost, "/api/v1/mesures", "application/json", "x", "k2", body)},
		{http.StatusBadRequest, send(http.MethodPost, "/api/v1/mesures", "application/json", tok.AccessToken, "", body)},
		{http.StatusConflict, send(http.MethodPost, "/api/v1/mesures", "application/json", tok.AccessToken, "k",
			bytes.Replace(body, []byte(`"version":1`), []byte(`"version":2`), 1))},
		{http.StatusUnsupportedMediaType, send(http.MethodPost, "/api/v1/mesures", "text/plain", tok.AccessToken, "k3", body)},
		{http.StatusUnprocessableEntity, send(http.MethodPost, "/api/v1/mesures", "application/json", tok.AccessToken, "k4", []byte(`{"x":1}`))},
		{http.StatusRequestEntityTooLarge, send(http.MethodPost, "/api/v1/mesures", "application/json", tok.AccessToken, "k5",
			[]byte(strings.Repeat(" ", MaxBodyBytes+1)))},
	} {
		require.Equal(t, tc.status, tc.resp.StatusCode)
		conforms(t, schema(problem), tc.resp)
	}

	_, err := s.GenerateEvents(10)
	require.NoError(t, err)
	resp = send(http.MethodGet, "/api/v1/evenements?limite=10", "", tok.AccessToken, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	conforms(t, schema("/paths/~1api~1v1~1evenements/get/responses/200/content/application~1json/schema"), resp)
}
