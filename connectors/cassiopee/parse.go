package cassiopee

import (
	"fmt"
	"time"

	"passerelle/canonical"
)

// Bounds of what the canonical model carries (schemas/common.v1.json): a duration part
// beyond them, or an amount beyond 2^53-1 cents, has no canonical form and is refused
// rather than clipped.
const (
	// MaxYears is the largest number of years of a duration (années).
	MaxYears = 9999
	// MaxMonths is the largest number of months of a duration (mois).
	MaxMonths = 9999
	// MaxDays is the largest number of days of a duration (jours).
	MaxDays = 99999
	// MaxAmountCents is the largest amount in euro cents: 2^53-1, the largest integer
	// every JSON implementation reads exactly.
	MaxAmountCents = 1<<53 - 1
)

// ParseDate turns a Cassiopée date JJ/MM/AAAA into a canonical date AAAA-MM-JJ. An
// impossible date (31/02/2024, 29/02/2023, 00/01/2024, year 0000) is ErrInvalidDate:
// invalid input, never a guess. The error does not quote s (a birth date is personal).
func ParseDate(s string) (canonical.Date, error) {
	if len(s) != 10 || s[2] != '/' || s[5] != '/' {
		return "", fmt.Errorf("%w: expected 10 characters JJ/MM/AAAA", ErrInvalidDate)
	}
	day, ok1 := digits(s[0:2])
	month, ok2 := digits(s[3:5])
	year, ok3 := digits(s[6:10])
	if !ok1 || !ok2 || !ok3 {
		return "", fmt.Errorf("%w: JJ, MM and AAAA must be digits", ErrInvalidDate)
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return "", fmt.Errorf("%w: no such day in the calendar", ErrInvalidDate)
	}
	// Built from the checked text, not through time.Format: the text is already the
	// canonical digits, zero-padded.
	return canonical.Date(s[6:10] + "-" + s[3:5] + "-" + s[0:2]), nil
}

// daysIn returns the number of days of a month of the proleptic Gregorian calendar.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// digits reads a short run of ASCII digits; false when any byte is not a digit.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// ParseDuree turns a Cassiopée duration into a canonical one: "2A6M15J" is {2, 6, 15},
// a missing part is 0 ("8M" is {0, 8, 0}), and nothing is normalised ("18M" stays 18
// months, "400J" 400 days: courts pronounce them that way). The parts come in the
// order A, M, J, each at most once, at least one of them. "0A0M0J" parses to {0, 0, 0}:
// whether a zero duration is acceptable is the caller's rule (Decode refuses it). A
// part beyond MaxYears, MaxMonths or MaxDays is ErrOutOfRange.
func ParseDuree(s string) (canonical.Duration, error) {
	var d canonical.Duration
	if s == "" {
		return d, fmt.Errorf("%w: empty", ErrInvalidDuree)
	}
	units := [3]struct {
		letter byte
		max    int
		into   *int
	}{{'A', MaxYears, &d.Years}, {'M', MaxMonths, &d.Months}, {'J', MaxDays, &d.Days}}
	next := 0 // index of the first unit still allowed
	tooLarge := false
	for i := 0; i < len(s); {
		start := i
		n, big := 0, false
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n > MaxDays { // larger than every bound: stop growing, remember it
				big = true
			} else {
				n = n*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start {
			return canonical.Duration{}, fmt.Errorf("%w: a number must come before each A, M or J", ErrInvalidDuree)
		}
		if i == len(s) {
			return canonical.Duration{}, fmt.Errorf("%w: a number must be followed by A, M or J", ErrInvalidDuree)
		}
		u := next
		for u < len(units) && units[u].letter != s[i] {
			u++
		}
		if u == len(units) {
			return canonical.Duration{}, fmt.Errorf("%w: expected A, M and J at most once each, in that order", ErrInvalidDuree)
		}
		if big || n > units[u].max {
			tooLarge = true
		}
		*units[u].into = n
		next = u + 1
		i++
	}
	if tooLarge {
		return canonical.Duration{}, fmt.Errorf("%w: a duration part is beyond %d years, %d months or %d days", ErrOutOfRange, MaxYears, MaxMonths, MaxDays)
	}
	return d, nil
}

// ParseMontant turns a Cassiopée amount in euros into euro cents with exact integer
// arithmetic (no float): "1500,00" and "1500" are 150000, "0,50" is 50. The decimal
// separator is a comma followed by exactly two digits; anything else ("1500.00",
// "1 500,00", "-5", "1500,5") is ErrInvalidMontant. An amount beyond MaxAmountCents is
// ErrOutOfRange.
func ParseMontant(s string) (int64, error) {
	euros, cents := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			euros, cents = s[:i], s[i+1:]
			if len(cents) != 2 {
				return 0, fmt.Errorf("%w: a comma must be followed by exactly two digits", ErrInvalidMontant)
			}
			break
		}
	}
	if euros == "" {
		return 0, fmt.Errorf("%w: no euros before the comma", ErrInvalidMontant)
	}
	var n int64
	over := false
	for i := 0; i < len(euros); i++ {
		c := euros[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: only digits and one decimal comma are allowed", ErrInvalidMontant)
		}
		if n > MaxAmountCents/10 {
			over = true // keep checking the syntax: a syntax error is the better answer
			continue
		}
		n = n*10 + int64(c-'0')
	}
	c, ok := int64(0), true
	if cents != "" {
		var ci int
		ci, ok = digits(cents)
		c = int64(ci)
	}
	if !ok {
		return 0, fmt.Errorf("%w: only digits and one decimal comma are allowed", ErrInvalidMontant)
	}
	if over || n > (MaxAmountCents-c)/100 {
		return 0, fmt.Errorf("%w: an amount is at most %d cents", ErrOutOfRange, int64(MaxAmountCents))
	}
	return n*100 + c, nil
}
