// Package sim is a Cassiopée court clerk's workstation, for Passerelle's tests and
// demo: it sends decisions to the intake over HTTPS with its court's client
// certificate and reads the receipts.
//
//   - GenerateCerts writes a private PKI into a folder (the demo uses a git-ignored
//     .demo/): a CA, the intake's server certificate for loopback, one client
//     certificate per court carrying its code as the URI SAN urn:justice:juridiction:
//     NNNNNN (cassiopee.CourtOf), and for the refusal tests an expired certificate, one
//     of another authority and one without a court code.
//   - Generator makes realistic decisions of one court — one to three prévenus,
//     EMP (with a suspended part, a mandat de dépôt), EMP_SURSIS, EMP_SURSIS_PROBATOIRE
//     with obligations and their wording, TIG, JOURS_AMENDE, AMENDE, SSJ, DDSE — their
//     corrected re-transmissions (numeroTransmission + 1), and the clerk's mistakes:
//     an impossible date (31/02/2024), a dureeSursis longer than the duree, a zero
//     duration, another court's decision. Workload orders them in phases, with older
//     transmissions arriving late and exact repeats. The people are invented.
//   - Clerk is the workstation's HTTP client; Run is the demo's clerk at work, one
//     decision every Interval, reporting each answer in one line without personal data.
package sim
