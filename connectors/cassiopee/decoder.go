package cassiopee

import (
	"context"
	"time"

	"passerelle/canonical"
)

// Decoder turns a clerk's body kept in quarantine back into judgments, for
// `passerelle replay` (connectors.Decoder). The reception time is the replay's.
type Decoder struct{}

// Decode implements connectors.Decoder: Decode, then ToJudgments.
func (Decoder) Decode(_ context.Context, raw []byte, _ string) ([]*canonical.Message, error) {
	d, _, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	return ToJudgments(d, time.Now())
}
