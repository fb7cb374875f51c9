// Package console is Passerelle's web console, served by `passerelle serve` under
// /console/ on the hub's HTTP server (pipeline.Hub.Mount): server-rendered pages
// (html/template, embedded with the stylesheet and a small script: no CDN, no build
// step, works on a closed network) over a running hub.
//
// What it shows and does:
//
//   - Routes with their state (running, paused, stopped, disabled), live counts
//     (pending, delivered, quarantined) and legal basis; pause and resume a route or a
//     source, reset a paused source's checkpoint.
//   - The quarantine with its reasons, filters and a replay button (pipeline.Replayer).
//   - The receipts lookup for a court clerk (the push intakes' receipts).
//   - The per-person journal: search by numéro d'écrou, numéro de dossier APPI, numéro
//     parquet or PRISME dossierId, then that person's measures (past, current,
//     upcoming) and every fact across systems on one timeline, coloured by what became
//     of it at each destination (delivered, pending, quarantined), with replay.
//   - The identity reviews: each doubtful match (same name and birth date, another
//     APPI or PRISME number) with both persons' identifiers, facts and held facts, and
//     the operator's decision (one person, or two), which releases the held facts.
//   - The rectifications still owed (Directive (UE) 2016/680, art. 16): each destination
//     that acknowledged an older version of a fact and not its newest, with its state
//     (pending, quarantined, not-routed) and what the correction changed; an operator
//     records a correction carried by another channel.
//   - A JSON API (/console/api/...) with the same state and controls for scripts.
//
// Guarantees: every page but the sign-in needs a session; every action checks a
// per-session CSRF token (and SameSite=Strict cookies); the API takes HTTP Basic,
// never a cookie, for changes. Every person lookup, listing of identity reviews or of
// rectifications, and every control, replay, identity decision and correction carried, is audited under the account's name
// (console:<name>) before anything is shown or done; a lookup that cannot be audited is
// not shown. The technical log never carries a
// searched identifier or a person's data.
//
// Authentication is an Authenticator: LocalAccounts (bcrypt hashes in a file) for the
// demo and small sites; an identity provider (OIDC) plugs in by also implementing
// Redirector, with no change to the pages or the sessions.
package console
