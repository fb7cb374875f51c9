package schemas_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/internal/logging"
	"passerelle/schemas"
)

// TestLogsCarryNoPersonalValue validates a message whose faults are personal values (a
// name, a birth date, an address), logs the refusal the way the pipeline does — the
// error and the redacted violations — and checks that none of the values reaches the
// log, while the sender's messages do quote them.
func TestLogsCarryNoPersonalValue(t *testing.T) {
	const (
		canaryName    = "Canarinovski"
		canaryBirth   = "1961-02-29"
		canaryAddress = "12 rue des Canaris 69003 Lyon"
	)
	reg := mustLoad(t)
	doc := exampleDoc(t, "penal-record", "reclusion-periode-surete-levee")
	set(t, doc, "/data/person/sex", canaryName)
	set(t, doc, "/data/person/birthDate", canaryBirth)
	set(t, doc, "/data/person/nationality", canaryAddress)

	err := reg.Validate(doc)
	var verr *schemas.ValidationError
	require.True(t, errors.As(err, &verr))
	var forSender strings.Builder
	for _, v := range verr.Violations {
		forSender.WriteString(v.String() + "\n")
	}
	for _, canary := range []string{canaryName, canaryBirth, canaryAddress} {
		require.Contains(t, forSender.String(), canary, "the sender's messages quote the value, so this test can fail")
	}

	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	log.Warn("message refused by its schema",
		logging.MessageID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
		logging.Stage("validate"),
		zap.Error(err),
		zap.Strings("violations", verr.Redacted()),
	)
	for _, v := range verr.Violations {
		log.Debug("violation", zap.String("violation", v.Redacted()))
	}

	require.Equal(t, 1+len(verr.Violations), logs.Len())
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var all strings.Builder
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		require.NoError(t, err)
		all.Write(buf.Bytes())
		fmt.Fprintln(&all, e.ContextMap())
	}
	out := all.String()
	assert.Contains(t, out, "/data/person/birthDate (rule format)", "the log says where and which rule")
	for _, canary := range []string{canaryName, canaryBirth, canaryAddress} {
		assert.NotContains(t, out, canary)
	}
}
