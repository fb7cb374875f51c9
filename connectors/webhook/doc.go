// Package webhook is a generic sink: it POSTs each canonical message, as a structured
// CloudEvent (application/cloudevents+json), to an HTTP endpoint with an
// Idempotency-Key header derived from the source's fact. It suits destinations that
// speak plain HTTP and JSON (an archive, a partner's gateway) and is the sink of the
// spine's crash tests.
//
// Answers: 2xx is delivered (the receipt id is the body's "id" when it is JSON, else
// the Location header); 408, 425, 429 and 5xx are transient (Retry-After honoured);
// other 4xx are permanent, quarantined with the status and the problem's title (never
// the body: it may echo personal data). Network errors and timeouts are transient.
//
// Every version of a fact is sent, in order, unless the endpoint is declared with
// newestWins: true (it keeps the highest version of each fact as current whatever the
// order, as PRISME does): the hub then skips a version whose newer one is already
// waiting (connectors.NewestWins).
package webhook
