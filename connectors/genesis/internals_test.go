package genesis

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDatesAreReadStrictly(t *testing.T) {
	tests := []struct {
		name, in string
		want     Date
		ok       bool
	}{
		{"a plain date is kept", "2024-03-04", "2024-03-04", true},
		{"a leap day is a day", "2024-02-29", "2024-02-29", true},
		{"surrounding whitespace is collapsed as XML Schema does", " \n2024-03-04\t", "2024-03-04", true},
		{"a UTC zone is dropped", "2024-03-04Z", "2024-03-04", true},
		{"an offset is dropped", "2024-03-04+01:00", "2024-03-04", true},
		{"a negative offset is dropped", "2024-03-04-05:00", "2024-03-04", true},
		{"an impossible day is refused", "2024-02-31", "", false},
		{"a non-leap 29 February is refused", "2023-02-29", "", false},
		{"month 13 is refused", "2024-13-01", "", false},
		{"a French date is refused", "04/03/2024", "", false},
		{"one-digit parts are refused", "2024-3-4", "", false},
		{"a time is refused", "2024-03-04T10:00:00", "", false},
		{"a bad offset is refused", "2024-03-04+25:00", "", false},
		{"year 0 is refused", "0000-01-01", "", false},
		{"the empty string is refused", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDate(tt.in)
			assert.Equal(t, tt.ok, err == nil, "error: %v", err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTimestampsNeedAnOffset(t *testing.T) {
	got, err := parseDateTime("2024-03-04T08:12:00+01:00")
	assert.NoError(t, err)
	assert.Equal(t, time.Date(2024, 3, 4, 7, 12, 0, 0, time.UTC), got.UTC())
	_, offset := got.Zone()
	assert.Equal(t, 3600, offset, "the offset GENESIS sent is kept")

	for _, in := range []string{"2024-03-04T08:12:00", "2024-03-04", "2024-02-30T08:00:00Z", ""} {
		_, err := parseDateTime(in)
		assert.Error(t, err, in)
	}
}

func TestFaultCodesAreReadByTheirClass(t *testing.T) {
	for code, want := range map[string]string{
		"soap:Client":             "Client",
		"Client":                  "Client",
		"SOAP-ENV:Server.Timeout": "Server",
		"env:VersionMismatch":     "VersionMismatch",
		"":                        "",
	} {
		assert.Equal(t, want, faultClass(code), code)
	}
}

func TestRetryAfterIsReadInSecondsOrAsADate(t *testing.T) {
	now := time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)
	assert.Equal(t, 120*time.Second, parseRetryAfter("120", now))
	assert.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, parseRetryAfter("", now))
	assert.Zero(t, parseRetryAfter("-3", now))
	assert.Zero(t, parseRetryAfter("soon", now))
	assert.Zero(t, parseRetryAfter(now.Add(-time.Minute).Format(http.TimeFormat), now), "a date in the past asks for no wait")
	assert.Equal(t, 24*time.Hour, parseRetryAfter("999999999999", now), "an absurd delay is capped at a day")
}

func TestBackoffGrowsWithJitterWithinItsBoundsAndHonoursRetryAfter(t *testing.T) {
	minWait, maxWait := 100*time.Millisecond, 2*time.Second
	for attempt := range 8 {
		ceiling := min(minWait<<attempt, maxWait)
		for range 50 {
			d := backoff(minWait, maxWait, attempt, nil)
			assert.GreaterOrEqual(t, d, ceiling/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, ceiling, "attempt %d", attempt)
		}
	}
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"1"}}}
	assert.Equal(t, time.Second, backoff(minWait, maxWait, 0, resp))
	assert.Equal(t, time.Duration(0), backoff(0, 0, 3, nil), "no wait configured, no wait")
}
