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
//					Fail:       srv.Fail,               // optional: transient and permanent error classes
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
//     with facts moving the position, and at least one fact becoming a message;
//   - resumes: read again from each position it returned, it yields exactly the facts
//     the uninterrupted read yielded after that position — none missing, none read
//     again (facts are compared by identity: system, reference, version, type);
//   - resumes after a crash: a new instance, given nothing but a position, yields the
//     same facts from there (a position that is a key into memory fails);
//   - keeps its idempotency keys across restarts: a new instance reading the same
//     fixture gives the same keys;
//   - produces only messages valid against the canonical schemas (with a placeholder
//     subject: the pipeline resolves subjects), and facts that failed with their raw
//     input, a stage ("decode" or "map") and an error text without personal data;
//     with MinFailed, that the fixture's broken input does come back as failed facts
//     (for quarantine) rather than vanish or stop the read;
//   - maps its fixture to the golden canonical messages (Golden; Update rewrites it);
//   - decodes the raw input of every fact again, as replay does (Instance.Decoder);
//   - with System.Fail, returns a transient failure of its system as a retryable
//     error, losing nothing once the system answers again;
//   - honours context cancellation: a Read with a cancelled context, or cancelled
//     while the system is slow, returns promptly with an error or an empty batch;
//   - logs no personal data: none of the harness's canary strings appears in any log
//     entry (message or field) at any level, nor in an error text;
//   - leaks no goroutine once its instance is closed and its system stopped.
//
// RunSink checks the same for a sink (settings, construction, cancellation, logs,
// goroutines), that every fixture message is delivered with a receipt, that
// delivering it again with the same idempotency key succeeds without a second record,
// and, with System.Fail, that a transient failure comes back retryable (and the retry
// succeeds) while a permanent refusal comes back marked connectors.Permanent at once,
// after at most MaxAttemptsOfARefusal requests.
//
// Every failure starts with the rule it breaks (the Rule constants), so that whoever
// reads a red test knows what the connector got wrong without reading the suite.
//
// The checks that can fail for reasons other than a test's own assertion (resume,
// restart, keys, cancellation, delivery, error classes) are plain functions returning
// an error, tested on their own; and the whole suite is run, in a child test process,
// on deliberately broken connectors — one that loses its checkpoint on a restart, one
// that logs a name, one that retries a permanent refusal forever — each of which must
// fail it with the rule it breaks: a check that cannot fail proves nothing.
//
// RunPush checks the same for a push source (an instance with Serve, whose system
// calls the hub): settings, construction, the fixture pushed through the system's real
// protocol reaching the hub's real push host (on PostgreSQL) as schema-valid, golden
// facts, the same keys and nothing new when pushed again, replay decoding, Serve
// ending with its context, logs and quarantine reasons without personal data, and no
// goroutine left.
//
// The suite starts the system once per check that needs a fresh one, runs its
// subtests one after the other (never in parallel: the goroutine check compares with
// what ran before it), and bounds every wait with a generous liveness timeout, never a
// performance assertion.
package connectortest
