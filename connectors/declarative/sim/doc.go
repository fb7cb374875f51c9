// Package sim makes what the declarative connector reads, for its tests, its
// acceptance suite and the worked example of docs/connectors.md: APPI's legacy CSV
// export (a Latin-1, semicolon-separated file per SPIP antenne, dates JJ/MM/AAAA, with
// a chosen share of malformed lines of the kinds old exports hold), dropped into a
// folder the way a batch does; and a JSON endpoint of records paged with a cursor,
// with latency and outages on demand.
package sim
