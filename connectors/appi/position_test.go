package appi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPositionsHaveOneWrittenForm(t *testing.T) {
	for _, s := range []string{"", "0", "1042", "1042;1037@1733050000123456;1040-1041@1733050000123456", "9;1-8@0"} {
		p, err := parsePosition(s)
		require.NoError(t, err, s)
		if s == "0" {
			assert.Equal(t, "", p.String(), "position 0 is the start")
			continue
		}
		assert.Equal(t, s, p.String())
	}
}

func TestPositionsTheSourceNeverWroteAreRefused(t *testing.T) {
	for name, s := range map[string]string{
		"a negative seq":                      "-1",
		"a seq with a sign":                   "+5",
		"a seq with leading zeros":            "007",
		"a word":                              "abc",
		"a gap without its instant":           "10;5",
		"a gap at or above the highest seq":   "10;10@1",
		"a gap running backwards":             "10;6-5@1",
		"gaps out of order":                   "10;7@1;5@1",
		"overlapping gaps":                    "10;3-6@1;5-7@1",
		"a gap of seq 0":                      "10;0@1",
		"a trailing separator":                "10;",
		"an instant that is not a number":     "10;5@x",
		"a seq beyond 64 bits":                "99999999999999999999",
		"a range without its end":             "10;5-@1",
		"adjacent gaps (never written so)":    "10;3-4@1;5@2",
		"an empty highest seq before the gap": ";5@1",
	} {
		_, err := parsePosition(s)
		require.ErrorIs(t, err, ErrInvalidPosition, name)
	}
}

func TestAGapSplitsWhenALateSeqFillsItsMiddle(t *testing.T) {
	p := position{high: 10}
	p.advance(15, 100)
	assert.Equal(t, "15;11-14@100", p.String())
	p.fill(12)
	assert.Equal(t, "15;11@100;13-14@100", p.String(), "both halves keep the instant a higher seq was first seen")
	p.fill(11)
	p.fill(14)
	assert.Equal(t, "15;13@100", p.String())
	p.fill(13)
	assert.Equal(t, "15", p.String())
}

func TestAGapExpiresOnlyAfterItsDeadlineAndOnlyWhereItWasLookedFor(t *testing.T) {
	p := position{high: 20, gaps: []gap{{2, 5, 100}, {8, 9, 200}, {12, 12, 300}}}
	gone := p.expire(200, 8)
	assert.Equal(t, []gap{{2, 5, 100}, {8, 8, 200}}, gone)
	assert.Equal(t, "20;9@200;12@300", p.String(), "seqs above the limit and gaps newer than the deadline stay")
}
