// Package e2e holds the end-to-end tests of Passerelle's flows: a real hub (the
// connectors of the builtin registry, PostgreSQL over a real connection, the embedded
// Kafka broker over TCP) between the simulators of the systems it connects, with their
// faults on. Each test proves a flow's promise from the outside, by what the
// destination's simulator recorded: every fact once in effect, the newest version
// last, and what could not be taken in quarantine with its reason.
//
// The package has no code of its own beyond the tests' rig: connectors never import
// each other, so a test that needs two of them lives here.
package e2e
