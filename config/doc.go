// Package config loads Passerelle's configuration: YAML into typed structs, defaults
// filled, environment overrides applied for what must not be committed (the database
// URL, the Kafka brokers, secrets), then every problem reported at once with its path
// (`routes[1].legalBasis.reference: required`), so that an operator fixes a file in
// one pass. Constructors return errors; nothing here panics on bad input.
//
// Connector settings are kept as raw YAML here and decoded by each connector's own
// Config type (connectors/<system>/config.go): the configuration format of a connector
// belongs to it, and the registry reports its problems under `connectors.<name>.`.
//
// Secrets never live in a committed file: a connector names the environment variable
// or the file that holds each one (`clientSecretEnv`, `clientSecretFile`).
package config
