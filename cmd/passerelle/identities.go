package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

func newIdentitiesCmd() *cobra.Command {
	var cfgPath, status string
	cmd := &cobra.Command{Use: "identities", Short: "The links between each system's identifiers of a person"}
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	review := &cobra.Command{
		Use:   "review [link ID | apart ID]",
		Short: "List the doubtful matches a human must decide, and decide them",
		Long: `The hub matches a person on the systems' identifiers first, then on her exact name,
first names and birth date. When the name and birth date match a known person whose
identifier in APPI or PRISME differs from the one the message carries, the hub never
merges them silently: the pair is listed here, and meanwhile the facts go on under a new
person id (identities: {doubtful: separate}, the default) or wait in the quarantine,
delivered nowhere (identities: {doubtful: wait}; HELD counts them). "review" lists the
open ones (--status linked, apart or all for the others); "review link ID" makes them
one person (the second's identifiers lead to the first from then on, and a subject
export of either lists both), "review apart ID" keeps them apart. The facts that waited
go on at once, under the known person's id after link, under the new one after apart
(a running hub also releases them within seconds). Every decision and release is
audited with the operator's name (PASSERELLE_OPERATOR, else the system user).`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, st, err := openStore(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer st.Close()
			reviews, err := st.ListIdentityReviews(cmd.Context(), status)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "ID\tSTATUS\tSINCE\tKNOWN PERSON\tIDENTIFIERS\tFACTS\tNEW PERSON\tIDENTIFIERS\tFACTS\tHELD\tREASON")
			for _, r := range reviews {
				_, _ = fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d (%s)\t%s\t%s\t%d (%s)\t%d\t%s\n", r.ID, r.Status, r.CreatedAt.UTC().Format(reportTime),
					r.PersonA, idents(r.IdentsA), r.MessagesA, strings.Join(r.SourcesA, ","),
					r.PersonB, idents(r.IdentsB), r.MessagesB, strings.Join(r.SourcesB, ","), r.Held, r.Reason)
			}
			return tw.Flush()
		},
	}
	review.Flags().StringVar(&status, "status", store.ReviewOpen, "open, linked, apart or all")
	for _, d := range []struct{ use, decision, short string }{
		{"link ID", store.ReviewLinked, "They are one person: link the new id to the known one"},
		{"apart ID", store.ReviewApart, "They are two people: keep them apart"},
	} {
		review.AddCommand(&cobra.Command{
			Use:   d.use,
			Short: d.short,
			Args:  cobraArgs(cobra.ExactArgs(1)),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return usageError{fmt.Errorf("ID must be a review number")}
				}
				o, err := openOps(cmd.Context(), cfgPath)
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				defer o.store.Close()
				n, err := o.replayer.DecideIdentity(cmd.Context(), id, d.decision, operator())
				switch {
				case errors.Is(err, pipeline.ErrRelease): // decided: said below
				case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyDecided):
					return &exitError{code: 1, msg: err.Error()}
				case err != nil:
					return err
				}
				_, _ = fmt.Fprintf(cmd.OutOrStdout(), "review %d: %s\n", id, d.decision)
				if n > 0 {
					_, _ = fmt.Fprintf(cmd.OutOrStdout(), "review %d: %d held fact(s) released\n", id, n)
				}
				if err != nil {
					return &exitError{code: 1, msg: err.Error() + " (a running hub releases them)"}
				}
				return nil
			},
		})
	}
	cmd.AddCommand(review)
	return cmd
}

func idents(ids []store.Identifier) string {
	if len(ids) == 0 {
		return "-"
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.System + ":" + id.Value
	}
	return strings.Join(out, ",")
}
