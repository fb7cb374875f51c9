package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"passerelle/config"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

// openStore loads a configuration as serve would and opens its store, for the data
// protection commands (they need no connector, no broker).
func openStore(ctx context.Context, cfgPath string) (*config.Config, *store.Store, error) {
	b, err := build(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	cfg := b.cfg
	st, err := store.Open(ctx, cfg.Database.URL, store.Options{MaxConns: 4, AuditKey: []byte(os.Getenv("PASSERELLE_AUDIT_KEY"))})
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// subjectSystems are the identifier systems --id accepts, by the names operators use.
var subjectSystems = map[string]string{
	"ECROU": pipeline.IDEcrou, "APPI": pipeline.IDAppi, "PRISME": pipeline.IDPrisme,
}

func newSubjectCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{Use: "subject", Short: "A person's rights: everything the hub moved about her"}
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	var id, name, firstNames, birthDate, person, format string
	var withData bool
	export := &cobra.Command{
		Use:   "export (--id SYSTEM:IDENTIFIER | --name NOM [--first-names P1,P2] --birth-date AAAA-MM-JJ | --person ID)",
		Short: "List every fact the hub moved about a person: sources, destinations, dates, legal bases, receipts",
		Long: `Answers a person's access request (Directive (UE) 2016/680, art. 14): the person
ids the hub knew her under (those an operator linked included), her identifiers in each
system, every fact accepted about her with its source and dates, and for each fact every
destination with its outcome, legal basis and receipt. The person is named by one
system's identifier (--id ECROU:24-0412@FR0690, --id APPI:202312345678, --id PRISME:D-1),
or by her exact name, first names and birth date as the sources spelled them (the
match is exact, first names included, case and spaces aside: --first-names is needed
whenever she has any), or by her canonical person id. --format json gives the
export as JSON, text (the default) a readable report. --with-data adds the canonical
data the hub still holds (retention purges it 30 days after delivery by default).

Every export is audited with the operator's name (PASSERELLE_OPERATOR, else the system
user), whether or not the person was found. Exit 1 when she was not found.`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := subjectQuery(id, name, firstNames, birthDate, person)
			if err != nil {
				return usageError{err}
			}
			q.WithData = withData
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format must be text or json")}
			}
			cfg, st, err := openStore(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer st.Close()
			exp, err := st.ExportSubject(cmd.Context(), q, operator())
			if err != nil {
				return err
			}
			fillLegalBases(exp, cfg)
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(exp); err != nil {
					return err
				}
			} else {
				writeSubjectReport(cmd.OutOrStdout(), exp)
			}
			if len(exp.Persons) == 0 {
				return &exitError{code: 1, msg: "subject export: no person known under this query"}
			}
			return nil
		},
	}
	export.Flags().StringVar(&id, "id", "", "one system's identifier, SYSTEM:IDENTIFIER (ECROU, APPI, PRISME)")
	export.Flags().StringVar(&name, "name", "", "last name, exactly as the sources spell it")
	export.Flags().StringVar(&firstNames, "first-names", "", "first names, comma separated, in order")
	export.Flags().StringVar(&birthDate, "birth-date", "", "birth date, AAAA-MM-JJ")
	export.Flags().StringVar(&person, "person", "", "canonical person id")
	export.Flags().StringVar(&format, "format", "text", "text or json")
	export.Flags().BoolVar(&withData, "with-data", false, "include the canonical data still held")
	cmd.AddCommand(export, newRectificationsCmd(&cfgPath), newRectifyCmd(&cfgPath))
	return cmd
}

func newRectifyCmd(cfgPath *string) *cobra.Command {
	var message, fact, file, reason string
	cmd := &cobra.Command{
		Use:   "rectify (--message ID | --fact SYSTEM:REF) --file CORRECTED.json --reason TEXT",
		Short: "Record an operator's rectification of a fact, with its corrected data, and carry it to every recipient",
		Long: `Records a rectification an operator received (Directive (UE) 2016/680, art. 16) when
the source cannot send it: FILE holds the fact's corrected canonical data, whole (the
"data" of its CloudEvent; a whole CloudEvent is also accepted, and its data taken). It
is checked against the fact's schema (every problem is named with its field and rule,
and nothing is recorded), then ingested as a new version of the same fact (the newest
accepted version + 1), about the same person and from the same source, with the
operator as actor: dedup, routes, field policies and delivery apply as to any source's
correction. The fact is named by its newest message (--message, as subject export lists
it) or by its reference (--fact APPI:mesure/2024-000123). --reason is the request's
reference (a letter, a ticket), kept in the audit: never personal data.

The corrected version goes to every destination of the fact's routes; those that
received an older version are listed, and "passerelle subject rectifications" shows
each as pending until it acknowledges the new one. A running hub delivers it. If the
source later sends the same version number with another content, that version is
quarantined as a conflict. Exit 1 when the rectification is refused.`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var req pipeline.RectifyRequest
			switch {
			case (message == "") == (fact == ""):
				return usageError{fmt.Errorf("name the fact one way: --message ID or --fact SYSTEM:REF")}
			case message != "":
				id, err := uuid.Parse(message)
				if err != nil {
					return usageError{fmt.Errorf("--message must be a message id (a UUID)")}
				}
				req.Message = id
			default:
				sys, ref, ok := strings.Cut(fact, ":")
				if !ok || sys == "" || ref == "" {
					return usageError{fmt.Errorf("--fact must be SYSTEM:REF, e.g. APPI:mesure/2024-000123")}
				}
				req.FactSystem, req.FactRef = strings.ToUpper(sys), ref
			}
			if file == "" {
				return usageError{fmt.Errorf("--file is required: the corrected canonical data")}
			}
			raw, err := readLimited(file, maxRectificationFile)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			req.Data, req.Reason, req.Actor = dataOf(raw), reason, operator()
			o, err := openOps(cmd.Context(), *cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer o.store.Close()
			res, err := o.ingester.Rectify(cmd.Context(), req)
			if err != nil {
				var re *pipeline.RectificationError
				if errors.As(err, &re) {
					lines := []string{"rectification refused: " + re.Msg}
					for _, v := range re.Violations {
						lines = append(lines, "  "+v.String())
					}
					return &exitError{code: 1, msg: strings.Join(lines, "\n")}
				}
				return err
			}
			w := cmd.OutOrStdout()
			p := res.Previous
			_, _ = fmt.Fprintf(w, "rectification of %s:%s: version %d (message %s) corrected by version %d (message %s): %s\n",
				p.FactSystem, p.FactRef, p.FactVersion, p.ID, res.Message.FactVersion, res.Message.ID, res.Outcome)
			if res.Held {
				_, _ = fmt.Fprintln(w, "the person's facts wait for an identity review (passerelle identities review): it goes on once decided")
			}
			dests := make([]string, 0, len(res.Recipients))
			for d := range res.Recipients {
				dests = append(dests, d)
			}
			slices.Sort(dests)
			for _, d := range dests {
				state := "owed the correction"
				if !slices.Contains(res.Targets, d) {
					state = "no route carries it there any more: carry it and acknowledge (subject rectifications ack)"
				}
				_, _ = fmt.Fprintf(w, "  %s received version %d: %s\n", d, res.Recipients[d], state)
			}
			_, _ = fmt.Fprintf(w, "it goes to: %s; passerelle subject rectifications --person %s shows what is still pending\n",
				strings.Join(res.Targets, ", "), p.Subject)
			return nil
		},
	}
	cmd.Flags().StringVar(&message, "message", "", "the newest message of the fact (its id)")
	cmd.Flags().StringVar(&fact, "fact", "", "the fact, SYSTEM:REF")
	cmd.Flags().StringVar(&file, "file", "", "the corrected canonical data (JSON)")
	cmd.Flags().StringVar(&reason, "reason", "", "the request's reference, for the audit (never personal data)")
	return cmd
}

// maxRectificationFile bounds the corrected data an operator gives.
const maxRectificationFile = 4 << 20

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// dataOf returns the data of a whole CloudEvent, else raw itself.
func dataOf(raw []byte) []byte {
	var ce struct {
		SpecVersion string          `json:"specversion"`
		Data        json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &ce) == nil && ce.SpecVersion != "" && len(ce.Data) > 0 {
		return ce.Data
	}
	return raw
}

func newRectificationsCmd(cfgPath *string) *cobra.Command {
	var id, person, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "rectifications [--id SYSTEM:IDENTIFIER | --person ID]",
		Short: "List the corrections still owed: destinations that got an older version of a fact and not yet its newest",
		Long: `A source that corrects a fact sends a newer version of it; the hub carries it to every
destination of its routes (Directive (UE) 2016/680, art. 16). This lists, oldest first,
each destination that acknowledged an older version and has not acknowledged the newest
yet: pending (on its way), quarantined (refused: see passerelle quarantine), or
not-routed (no route carries the fact there any more: an operator must act). CHANGES
says what the newest version corrected: identity, sentence, other, or unknown when
retention purged a version's bytes. --id or --person restricts the list to one person.`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id != "" && person != "" {
				return usageError{fmt.Errorf("--id or --person, not both")}
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format must be text or json")}
			}
			var q store.SubjectQuery
			if id != "" {
				var err error
				if q, err = subjectQuery(id, "", "", "", ""); err != nil {
					return usageError{err}
				}
			}
			_, st, err := openStore(cmd.Context(), *cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer st.Close()
			if id != "" {
				p, ok, err := st.FindPerson(cmd.Context(), q.System, q.Value)
				if err != nil {
					return err
				}
				if !ok {
					return &exitError{code: 1, msg: "subject rectifications: no person known under this identifier"}
				}
				person = p
			}
			rs, err := st.PendingRectifications(cmd.Context(), person, limit)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if rs == nil {
					rs = []store.Rectification{}
				}
				return enc.Encode(rs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "ACCEPTED	PERSON	FACT	DELIVERED	CURRENT	DESTINATION	STATUS	CHANGES")
			for _, r := range rs {
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s:%s\tv%d\tv%d\t%s\t%s\t%s\n", r.AcceptedAt.UTC().Format(reportTime), r.Subject,
					r.FactSystem, r.FactRef, r.DeliveredVersion, r.CurrentVersion, r.Destination, r.Status, strings.Join(r.Changes, ","))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "%d correction(s) pending\n", len(rs))
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "only this person, by one system's identifier (SYSTEM:IDENTIFIER)")
	cmd.Flags().StringVar(&person, "person", "", "only this person, by canonical person id")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many")
	cmd.AddCommand(&cobra.Command{
		Use:   "ack MESSAGE_ID DESTINATION",
		Short: "Record that a correction was carried to a destination outside the flow (audited)",
		Long: `For a correction no route can carry (not-routed), or that the destination took by
another channel: records that the operator (PASSERELLE_OPERATOR, else the system user)
carried it, so that it leaves the list. The audit keeps who and when.`,
		Args: cobraArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uuid.Parse(args[0])
			if err != nil {
				return usageError{fmt.Errorf("MESSAGE_ID must be a message id (a UUID)")}
			}
			_, st, err := openStore(cmd.Context(), *cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer st.Close()
			if err := st.AckRectification(cmd.Context(), id, args[1], operator()); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return &exitError{code: 1, msg: "no pending correction of this message at this destination"}
				}
				return err
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "correction of %s at %s: acknowledged\n", id, args[1])
			return nil
		},
	})
	return cmd
}

// subjectQuery turns the flags into a query; exactly one way of naming the person.
func subjectQuery(id, name, firstNames, birthDate, person string) (store.SubjectQuery, error) {
	ways := 0
	for _, v := range []string{id, name + birthDate, person} {
		if v != "" {
			ways++
		}
	}
	if ways != 1 {
		return store.SubjectQuery{}, fmt.Errorf("name the person one way: --id, --name with --birth-date, or --person")
	}
	switch {
	case id != "":
		sys, value, ok := strings.Cut(id, ":")
		system, known := subjectSystems[strings.ToUpper(sys)]
		if !ok || !known || value == "" {
			return store.SubjectQuery{}, fmt.Errorf("--id must be SYSTEM:IDENTIFIER with SYSTEM one of ECROU, APPI, PRISME")
		}
		return store.SubjectQuery{System: system, Value: value}, nil
	case person != "":
		return store.SubjectQuery{Person: person}, nil
	default:
		if name == "" || birthDate == "" {
			return store.SubjectQuery{}, fmt.Errorf("--name and --birth-date go together")
		}
		if _, err := time.Parse(time.DateOnly, birthDate); err != nil {
			return store.SubjectQuery{}, fmt.Errorf("--birth-date must be a date AAAA-MM-JJ")
		}
		var firsts []string
		for _, f := range strings.Split(firstNames, ",") {
			if f = strings.TrimSpace(f); f != "" {
				firsts = append(firsts, f)
			}
		}
		return store.SubjectQuery{System: pipeline.IDPersonKey, Value: pipeline.PersonKey(name, firsts, birthDate)}, nil
	}
}

// fillLegalBases gives a delivery without an audited outcome yet (pending) the legal
// basis of its route as configured now.
func fillLegalBases(e *store.SubjectExport, cfg *config.Config) {
	bases := map[string]string{}
	for _, r := range cfg.Routes {
		bases[r.Name] = r.LegalBasis.Reference + " — " + r.LegalBasis.Purpose
	}
	for i := range e.Facts {
		for j := range e.Facts[i].Deliveries {
			if d := &e.Facts[i].Deliveries[j]; d.LegalBasis == "" {
				d.LegalBasis = bases[d.Route]
			}
		}
	}
}

const reportTime = "2006-01-02 15:04:05Z"

// writeSubjectReport writes the export as a report a person can read.
func writeSubjectReport(w io.Writer, e *store.SubjectExport) {
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format+"\n", args...) }
	p("Subject access export, %s", e.ExportedAt.UTC().Format(reportTime))
	if len(e.Persons) == 0 {
		p("No person is known under this query: the hub moved nothing about her.")
		return
	}
	p("Person ids: %s", strings.Join(e.Persons, ", "))
	if len(e.Identifiers) > 0 {
		ids := make([]string, len(e.Identifiers))
		for i, id := range e.Identifiers {
			ids[i] = id.System + " " + id.Value
		}
		p("Identifiers: %s", strings.Join(ids, "; "))
	}
	deliveries := 0
	for _, f := range e.Facts {
		deliveries += len(f.Deliveries)
	}
	p("%d facts, %d deliveries", len(e.Facts), deliveries)
	for i, f := range e.Facts {
		p("")
		p("%d. %s: %s %s, version %d (message %s)", i+1, f.Type, f.FactSystem, f.FactRef, f.FactVersion, f.MessageID)
		p("   from %s (%s), event of %s, accepted %s", f.Connector, f.Source, f.EventTime.UTC().Format(reportTime), f.AcceptedAt.UTC().Format(reportTime))
		if f.PayloadPurged {
			p("   its content was purged by retention; the references remain")
		}
		if len(f.Deliveries) == 0 {
			p("   sent to no destination")
		}
		for _, d := range f.Deliveries {
			line := fmt.Sprintf("   -> %s (route %s): %s", d.Destination, d.Route, d.Status)
			if d.Status != store.StatusPending {
				line += " on " + d.OutcomeAt.UTC().Format(reportTime)
			}
			line += fmt.Sprintf(", %d attempt(s)", d.Attempts)
			if d.ReceiptRef != "" {
				line += ", receipt " + d.ReceiptRef
			}
			p("%s", line)
			if d.LegalBasis != "" {
				p("      legal basis: %s", d.LegalBasis)
			}
		}
		for _, q := range f.Quarantined {
			p("   quarantine %d (%s, %s): %s", q.ID, q.Stage, q.Status, q.Reason)
		}
		if len(f.Data) > 0 {
			p("   data: %s", f.Data)
		}
	}
}
