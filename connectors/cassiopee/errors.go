package cassiopee

import (
	"errors"
	"strings"
)

// Sentinels, for errors.Is. No error of this package quotes a value of the clerk's body:
// their texts name fields and rules only, so they may reach logs and quarantine reasons.
var (
	// ErrRefused: Decode refused the body; the error is a *RefusalError whose Problems say
	// where and why. Permanent: the same body is refused again.
	ErrRefused = errors.New("cassiopee: decision refused")
	// ErrInvalidDate: ParseDate was given text that is not a calendar date written
	// JJ/MM/AAAA (31/02/2024 is one of them).
	ErrInvalidDate = errors.New("cassiopee: not a JJ/MM/AAAA calendar date")
	// ErrInvalidDuree: ParseDuree was given text that is not a duration written like
	// 2A6M15J (years A, months M, days J, in that order, at least one part).
	ErrInvalidDuree = errors.New("cassiopee: not a duration written like 2A6M15J")
	// ErrInvalidMontant: ParseMontant was given text that is not an amount written like
	// 1500 or 1500,00.
	ErrInvalidMontant = errors.New("cassiopee: not an amount written like 1500,00")
	// ErrOutOfRange: a duration part or an amount is well written but beyond what the
	// canonical model can carry (MaxYears, MaxMonths, MaxDays, MaxAmountCents).
	ErrOutOfRange = errors.New("cassiopee: value out of range")
	// ErrInvalidDecision: ToJudgments was given a Decision that Decode would have
	// refused (an impossible date, no prévenu, ...). Permanent.
	ErrInvalidDecision = errors.New("cassiopee: invalid decision")
)

// RefusalError is Decode's answer to a body it refuses: every problem found, each with
// its JSON pointer. errors.Is(err, ErrRefused) holds for it.
type RefusalError struct {
	// Problems are the violations, at least one, ordered by pointer. Their Detail may
	// quote the clerk's values: send them back to the clerk, never to logs.
	Problems []Problem
}

// Error lists the problems in their redacted form (pointer and rule, no value), so
// that it is fit for logs and quarantine reasons.
func (e *RefusalError) Error() string {
	var b strings.Builder
	b.WriteString(ErrRefused.Error())
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.Redacted())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusalError) Is(target error) bool { return target == ErrRefused }

// Sentinels of the intake. Their texts name no value either.
var (
	// ErrIntakeOptions: NewIntake was given options it cannot serve with.
	ErrIntakeOptions = errors.New("cassiopee: intake options")
	// ErrNoClientCertificate: a TLS client presented no certificate; the handshake is
	// refused (and audited).
	ErrNoClientCertificate = errors.New("cassiopee: a court client certificate is required")
	// ErrBadClientCertificate: a TLS client's certificate is expired, not signed by the
	// courts' authority or not for client authentication; the handshake is refused (and
	// audited).
	ErrBadClientCertificate = errors.New("cassiopee: client certificate refused")
	// ErrNoFiles is Importer.Import's error for a folder without any *.json file.
	ErrNoFiles = errors.New("cassiopee: no .json file to import")
)
