// Package connectortest is the acceptance suite every Passerelle connector passes
// (STYLE.md, point 13): the same checks, run the same way, against each connector's
// real external system or its simulator, so that the guarantees the pipeline builds on
// hold for every connector alike and a new connector cannot forget one.
//
// A connector's test fills a harness and calls the suite:
//
//	func TestAcceptance(t *testing.T) {
//		connectortest.RunSource(t, connectortest.SourceHarness{
//			Spec: mysystem.Spec,
//			Start: func(t *testing.T) connectortest.System {
//				srv := startMySimulator(t)              // loaded with fixed data; t.Cleanup stops it
//				return connectortest.System{
//					Settings:   map[string]any{"url": srv.URL},
//					Calls:      srv.Calls,              // optional: proves New does not call it
//					SetLatency: srv.SetLatency,         // optional: cancellation during a slow call
//				}
//			},
//			BadSettings: []connectortest.BadSettings{
//				{Name: "a missing url", Settings: map[string]any{}, Path: "url"},
//			},
//			Canaries: []string{"DUPONT", "1988-06-17"}, // personal data of the fixture
//			Golden:   "testdata/acceptance.golden.json",
//			Update:   *update,                           // the connector test's own -update flag
//		})
//	}
//
// RunSource checks that a source:
//
//   - has a usable Spec (kind, summary, constructor);
//   - refuses each of the harness's broken settings with problems whose paths start
//     with the instance's path (connectors.<name>) and name the broken setting;
//   - builds from valid settings without contacting its system (start-up must not
//     depend on it being up);
//   - reads from "" to the end (an empty batch whose Next is the position), every batch
//     with facts moving the position;
//   - resumes: read again from each position it returned, it yields exactly the facts
//     the uninterrupted read yielded after that position — none missing, none read
//     again (facts are compared by identity: system, reference, version, type);
//   - produces only messages valid against the canonical schemas (with a placeholder
//     subject: the pipeline resolves subjects), and facts that failed with their raw
//     input, a stage ("decode" or "map") and an error text without personal data;
//   - maps its fixture to the golden canonical messages (Golden; Update rewrites it);
//   - honours context cancellation: a Read with a cancelled context, or cancelled
//     while the system is slow, returns promptly with an error or an empty batch;
//   - logs no personal data: none of the harness's canary strings appears in any log
//     entry (message or field) at any level, nor in an error text;
//   - leaks no goroutine once its instance is closed and its system stopped.
//
// RunSink checks the same for a sink (settings, construction, cancellation, logs,
// goroutines), and that every fixture message is delivered with a receipt, and that
// delivering it again with the same idempotency key succeeds without a second record.
//
// The checks that can fail for reasons other than a test's own assertion (resume,
// cancellation, delivery) are plain functions returning an error, tested on their own
// with deliberately broken connectors in this package's tests: a check that cannot
// fail proves nothing.
//
// The suite starts the system once per check that needs a fresh one, runs its
// subtests one after the other (never in parallel: the goroutine check compares with
// what ran before it), and bounds every wait with a generous liveness timeout, never a
// performance assertion.
package connectortest
