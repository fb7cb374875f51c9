package cassiopee

import (
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want canonical.Date
		err  error
	}{
		{"a JJ/MM/AAAA date becomes AAAA-MM-JJ", "14/03/2024", "2024-03-14", nil},
		{"leading zeros are kept", "02/01/2024", "2024-01-02", nil},
		{"the 29th of February of a leap year exists", "29/02/2024", "2024-02-29", nil},
		{"the 31st of December exists", "31/12/1999", "1999-12-31", nil},
		{"the 31st of February is not a guess but an error", "31/02/2024", "", ErrInvalidDate},
		{"the 29th of February of a common year is an error", "29/02/2023", "", ErrInvalidDate},
		{"the 29th of February 1900 is an error (not a leap year)", "29/02/1900", "", ErrInvalidDate},
		{"the 31st of April is an error", "31/04/2024", "", ErrInvalidDate},
		{"day zero is an error", "00/01/2024", "", ErrInvalidDate},
		{"month zero is an error", "01/00/2024", "", ErrInvalidDate},
		{"month thirteen is an error", "01/13/2024", "", ErrInvalidDate},
		{"year zero is an error", "01/01/0000", "", ErrInvalidDate},
		{"an ISO date is not a Cassiopée date", "2024-03-14", "", ErrInvalidDate},
		{"a date without leading zeros is refused", "5/2/2024", "", ErrInvalidDate},
		{"a two-digit year is refused", "05/02/24", "", ErrInvalidDate},
		{"dashes are not slashes", "05-02-2024", "", ErrInvalidDate},
		{"letters are refused", "AB/CD/EFGH", "", ErrInvalidDate},
		{"a sign is not a digit", "+5/02/2024", "", ErrInvalidDate},
		{"an empty text is refused", "", "", ErrInvalidDate},
		{"trailing text is refused", "05/02/2024 ", "", ErrInvalidDate},
		{"non-ASCII digits are refused", "٠٥/02/2024", "", ErrInvalidDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Empty(t, got)
				if tt.in != "" {
					assert.NotContains(t, err.Error(), tt.in, "the error must not quote the date")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.True(t, got.Valid())
		})
	}
}

func TestParseDuree(t *testing.T) {
	d := func(y, m, j int) canonical.Duration { return canonical.Duration{Years: y, Months: m, Days: j} }
	tests := []struct {
		name string
		in   string
		want canonical.Duration
		err  error
	}{
		{"years, months and days map one to one", "2A6M15J", d(2, 6, 15), nil},
		{"a missing day part is zero", "2A6M", d(2, 6, 0), nil},
		{"a missing year part is zero", "6M15J", d(0, 6, 15), nil},
		{"a missing month part is zero", "1A15J", d(1, 0, 15), nil},
		{"months alone", "8M", d(0, 8, 0), nil},
		{"years alone", "2A", d(2, 0, 0), nil},
		{"days alone: the days of a JOURS_AMENDE", "60J", d(0, 0, 60), nil},
		{"18 months stay 18 months: never normalised", "18M", d(0, 18, 0), nil},
		{"400 days stay 400 days: never normalised", "400J", d(0, 0, 400), nil},
		{"12 months stay 12 months, not a year", "12M", d(0, 12, 0), nil},
		{"leading zeros are read as numbers", "02A06M", d(2, 6, 0), nil},
		{"all zero parses: whether it is acceptable is Decode's rule", "0A0M0J", d(0, 0, 0), nil},
		{"the largest bounds are accepted", "9999A9999M99999J", d(9999, 9999, 99999), nil},
		{"years beyond the canonical bound are out of range", "10000A", canonical.Duration{}, ErrOutOfRange},
		{"months beyond the canonical bound are out of range", "10000M", canonical.Duration{}, ErrOutOfRange},
		{"days beyond the canonical bound are out of range", "100000J", canonical.Duration{}, ErrOutOfRange},
		{"a huge number is out of range, not an overflow", "99999999999999999999999999J", canonical.Duration{}, ErrOutOfRange},
		{"an empty duration is refused", "", canonical.Duration{}, ErrInvalidDuree},
		{"parts out of order are refused", "6M2A", canonical.Duration{}, ErrInvalidDuree},
		{"a part twice is refused", "2A3A", canonical.Duration{}, ErrInvalidDuree},
		{"a number without unit is refused", "18", canonical.Duration{}, ErrInvalidDuree},
		{"a unit without number is refused", "AM", canonical.Duration{}, ErrInvalidDuree},
		{"lower-case units are refused", "2a6m", canonical.Duration{}, ErrInvalidDuree},
		{"English units are refused", "2Y6M", canonical.Duration{}, ErrInvalidDuree},
		{"a negative part is refused", "-2A", canonical.Duration{}, ErrInvalidDuree},
		{"spaces are refused", "2A 6M", canonical.Duration{}, ErrInvalidDuree},
		{"a decimal is refused", "1,5A", canonical.Duration{}, ErrInvalidDuree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDuree(tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Equal(t, canonical.Duration{}, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMontant(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		err  error
	}{
		{"euros and cents with a comma become cents", "1500,00", 150000, nil},
		{"euros without cents become cents", "1500", 150000, nil},
		{"cents are added exactly", "1234,56", 123456, nil},
		{"less than a euro", "0,50", 50, nil},
		{"one cent", "0,01", 1, nil},
		{"zero is an amount", "0", 0, nil},
		{"leading zeros are read as a number", "0012,30", 1230, nil},
		{"an amount that a float64 would round stays exact", "90071992547409,91", 9007199254740991, nil},
		{"beyond 2^53-1 cents is out of range", "90071992547409,92", 0, ErrOutOfRange},
		{"a huge amount is out of range, not an overflow", "99999999999999999999999999999", 0, ErrOutOfRange},
		{"a decimal point is refused", "1500.00", 0, ErrInvalidMontant},
		{"one decimal digit is refused", "1500,5", 0, ErrInvalidMontant},
		{"three decimal digits are refused", "1500,000", 0, ErrInvalidMontant},
		{"a negative amount is refused", "-500,00", 0, ErrInvalidMontant},
		{"a thousands separator is refused", "1 500,00", 0, ErrInvalidMontant},
		{"a currency sign is refused", "1500€", 0, ErrInvalidMontant},
		{"a comma without euros is refused", ",50", 0, ErrInvalidMontant},
		{"two commas are refused", "1,00,00", 0, ErrInvalidMontant},
		{"an empty amount is refused", "", 0, ErrInvalidMontant},
		{"an exponent is refused", "1e3", 0, ErrInvalidMontant},
		{"a syntax error beats the size", "99999999999999999999999x", 0, ErrInvalidMontant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMontant(tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// datePattern is the contract's date pattern.
var datePattern = regexp.MustCompile(`^[0-9]{2}/[0-9]{2}/[0-9]{4}$`)

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"14/03/2024", "31/02/2024", "29/02/2024", "29/02/1900", "00/00/0000", "1/1/2024", "", "99/99/9999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidDate)
			require.Empty(t, d)
			return
		}
		// Whatever is accepted is a real date, written back as it came.
		require.True(t, datePattern.MatchString(s))
		require.True(t, d.Valid(), "accepted %q as %q", s, d)
		tm, err := d.Time()
		require.NoError(t, err)
		require.Equal(t, s, tm.Format("02/01/2006"))
	})
}

func FuzzParseDuree(f *testing.F) {
	for _, s := range []string{"2A6M15J", "18M", "60J", "0A0M0J", "6M2A", "", "99999999999999999999A", "1A1A", "A"} {
		f.Add(s)
	}
	full := regexp.MustCompile(`^(?:([0-9]+)A)?(?:([0-9]+)M)?(?:([0-9]+)J)?$`)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuree(s)
		m := full.FindStringSubmatch(s)
		if err != nil {
			require.Equal(t, canonical.Duration{}, d)
			if m == nil || s == "" {
				require.ErrorIs(t, err, ErrInvalidDuree)
			} else {
				require.ErrorIs(t, err, ErrOutOfRange)
			}
			return
		}
		// Accepted: the contract's pattern, each part read exactly, within the bounds.
		require.NotNil(t, m, "accepted %q", s)
		require.NotEmpty(t, s)
		for i, got := range []int{d.Years, d.Months, d.Days} {
			want := new(big.Int)
			if m[i+1] != "" {
				want.SetString(m[i+1], 10)
			}
			require.Equal(t, want.Int64(), int64(got))
		}
		require.LessOrEqual(t, d.Years, MaxYears)
		require.LessOrEqual(t, d.Months, MaxMonths)
		require.LessOrEqual(t, d.Days, MaxDays)
	})
}

func FuzzParseMontant(f *testing.F) {
	for _, s := range []string{"1500,00", "1500", "0,50", "-5", "1500.00", "", ",", "90071992547409,91", "90071992547409,92"} {
		f.Add(s)
	}
	pattern := regexp.MustCompile(`^[0-9]+(,[0-9]{2})?$`)
	f.Fuzz(func(t *testing.T, s string) {
		cents, err := ParseMontant(s)
		if !pattern.MatchString(s) {
			require.ErrorIs(t, err, ErrInvalidMontant)
			return
		}
		// The exact value, by big integer arithmetic.
		want, ok := new(big.Int).SetString(strings.Replace(s, ",", "", 1), 10)
		require.True(t, ok)
		if !strings.Contains(s, ",") {
			want.Mul(want, big.NewInt(100))
		}
		if want.Cmp(big.NewInt(MaxAmountCents)) > 0 {
			require.ErrorIs(t, err, ErrOutOfRange)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want.Int64(), cents)
	})
}
