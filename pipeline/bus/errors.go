package bus

import "errors"

var (
	// ErrTransient classifies a publish failure that trying again later can cure
	// without anyone acting: the broker unreachable, a partition leader moving, a
	// request timing out, the caller's context ending before the acknowledgement.
	ErrTransient = errors.New("bus: transient broker error")
	// ErrPermanent classifies a publish failure that trying again will not cure until
	// an operator acts, and that is not the messages' fault: authorization refused,
	// an invalid topic name, a batch size above the broker's limit. Do not quarantine
	// the messages: stop and say so.
	ErrPermanent = errors.New("bus: permanent broker error")
	// ErrRejected classifies a publish failure caused by the messages themselves (too
	// large for the broker): publishing them again can never succeed. Quarantine them
	// (PublishError.Rejected) and publish the others again.
	ErrRejected = errors.New("bus: message rejected by the broker")
	// ErrClosed is returned by a Publisher or Consumer used after Close.
	ErrClosed = errors.New("bus: closed")
	// ErrMissingHeader is returned by FromKafka for a Kafka message that lacks a
	// required CloudEvents header; the error names the header.
	ErrMissingHeader = errors.New("bus: missing CloudEvents header")
	// ErrInvalidHeader is returned by FromKafka for a CloudEvents header that is
	// empty, repeated, not UTF-8, or whose value does not have its attribute's type;
	// the error names the header, never its value.
	ErrInvalidHeader = errors.New("bus: invalid CloudEvents header")
	// ErrUnknownHeader is returned by FromKafka for a ce_ header that is not an
	// attribute of the canonical envelope (which is closed).
	ErrUnknownHeader = errors.New("bus: unknown CloudEvents header")
	// ErrNoData is returned by FromKafka for a Kafka message without a value: every
	// canonical message carries data.
	ErrNoData = errors.New("bus: message without data")
	// ErrUnknownTopic is returned by NewConsumer and EnsureTopics' checks for a topic
	// the cluster does not have.
	ErrUnknownTopic = errors.New("bus: unknown topic")
	// ErrInvalidConfig is returned for options that cannot work; the error says which
	// and why.
	ErrInvalidConfig = errors.New("bus: invalid configuration")
	// ErrRetentionUnknown is a topic retention the cluster would not tell (no
	// DescribeConfigs right, an old broker): the topics exist, their retention is
	// unchecked.
	ErrRetentionUnknown = errors.New("bus: topic retention unknown")
)
