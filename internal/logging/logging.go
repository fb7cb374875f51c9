// Package logging builds Passerelle's zap loggers and names the only fields a log line
// may carry. The data the hub moves is penal and personal: a log line carries message
// ids, connector, route and destination names, Kafka coordinates and technical error
// classes — never a name, a birth date, an address, free text or a payload. The field
// helpers below are the vocabulary; anything else needs a reason in review.
package logging

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a logger writing to w: "json" for production (one JSON object a line,
// ISO 8601 UTC times), "console" for a terminal. level is debug, info, warn or error.
func New(format, level string, w io.Writer) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("logging: level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder
	switch format {
	case "json":
		encoder = zapcore.NewJSONEncoder(enc)
	case "console":
		enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		if f, ok := w.(*os.File); !ok || !isTerminal(f) {
			enc.EncodeLevel = zapcore.CapitalLevelEncoder
		}
		enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		encoder = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("logging: format %q: must be json or console", format)
	}
	core := zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w)))), nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// The fixed field names (STYLE.md, point 11).
const (
	KeyMessageID   = "message_id"
	KeyConnector   = "connector"
	KeyDestination = "destination"
	KeyRoute       = "route"
	KeyAttempt     = "attempt"
	KeyTopic       = "topic"
	KeyPartition   = "partition"
	KeyOffset      = "offset"
	KeyStage       = "stage"
	KeyCount       = "count"
	KeyPosition    = "position"
)

// MessageID is the canonical message id.
func MessageID(id string) zap.Field { return zap.String(KeyMessageID, id) }

// Connector is a connector instance name.
func Connector(name string) zap.Field { return zap.String(KeyConnector, name) }

// Destination is a sink connector instance name.
func Destination(name string) zap.Field { return zap.String(KeyDestination, name) }

// Route is a route name.
func Route(name string) zap.Field { return zap.String(KeyRoute, name) }

// Attempt is a delivery attempt number, from 1.
func Attempt(n int) zap.Field { return zap.Int(KeyAttempt, n) }

// Topic is a Kafka topic.
func Topic(name string) zap.Field { return zap.String(KeyTopic, name) }

// Partition is a Kafka partition.
func Partition(p int) zap.Field { return zap.Int(KeyPartition, p) }

// Offset is a Kafka offset.
func Offset(o int64) zap.Field { return zap.Int64(KeyOffset, o) }

// Stage is a pipeline stage (decode, validate, ingest, policy, deliver).
func Stage(s string) zap.Field { return zap.String(KeyStage, s) }

// Count is a number of items.
func Count(n int) zap.Field { return zap.Int(KeyCount, n) }
