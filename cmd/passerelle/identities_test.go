package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

func TestIdentitiesReviewCommand(t *testing.T) {
	cfg, db := opsConfig(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	known, _ := seedPerson(t, st)
	key := pipeline.PersonKey("DUPONT", []string{"Jeanne"}, "1990-01-01")
	ids, err := st.ResolvePersons(t.Context(), [][]store.Identifier{{{System: pipeline.IDAppi, Value: "202300000002"}, {System: pipeline.IDPersonKey, Value: key}}})
	require.NoError(t, err)
	require.NotEqual(t, known, ids[0], "a doubtful match is a new person")
	t.Setenv("PASSERELLE_OPERATOR", "alice")

	r := runCLI(t, nil, "identities", "review", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, known)
	assert.Contains(t, r.stdout, ids[0])
	assert.Contains(t, r.stdout, "APPI:202300000001")
	assert.Contains(t, r.stdout, "APPI:202300000002")
	assert.Contains(t, r.stdout, "same name and birth date, different APPI identifiers")
	assert.NotContains(t, r.stdout, "DUPONT")

	reviews, err := st.ListIdentityReviews(t.Context(), store.ReviewOpen)
	require.NoError(t, err)
	require.Len(t, reviews, 1)
	id := reviews[0].ID
	r = runCLI(t, nil, "identities", "review", "link", fmtInt(id), "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "linked")
	r = runCLI(t, nil, "identities", "review", "apart", fmtInt(id), "-c", cfg)
	assert.Equal(t, 1, r.code, "decided once")
	r = runCLI(t, nil, "identities", "review", "link", "x", "-c", cfg)
	assert.Equal(t, 2, r.code)

	r = runCLI(t, nil, "subject", "export", "--id", "APPI:202300000002", "--format", "json", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	var exp store.SubjectExport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &exp))
	assert.ElementsMatch(t, []string{known, ids[0]}, exp.Persons, "a linked person's export lists both ids")
	assert.Len(t, exp.Facts, 1)
	var n int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'identity-linked' AND actor = 'operator:alice'`).Scan(&n))
	assert.Equal(t, 1, n)
}
