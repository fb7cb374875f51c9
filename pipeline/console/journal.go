package console

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"passerelle/pipeline/store"
)

// Journal is one person's page: who they are in each system, their measures (past,
// current, upcoming) and every fact the hub accepted about them, newest first, with
// what became of it at each destination: the synthetic view the staff lost.
type Journal struct {
	Person      string
	Name        string
	Identifiers []store.Identifier
	Measures    []Measure
	Entries     []Entry
	Today       string
	Back        string
	Counts      map[string]int // entries by state
	// Corrections counts the destinations still owed the newest version of one of the
	// person's facts (store.CountPendingRectifications): the link to them shows only then.
	Corrections int
}

// Measure is the newest known version of one court measure of the person.
type Measure struct {
	Ref, Number, Kind, Status, Court, Office string
	Decision, Start, End                     string
	// Phase is "past", "current" or "upcoming", against today.
	Phase string
}

// Entry is one fact on the timeline.
type Entry struct {
	At         time.Time
	Type       string
	System     string
	Ref        string
	Version    int64
	Connector  string
	Summary    string
	Deliveries []store.JournalDelivery
	// State is the worst of its deliveries: "quarantined", "pending", "delivered"
	// (delivered or superseded by a newer version everywhere) or "unrouted".
	State string
}

// typeLabel names a canonical type for people.
func typeLabel(typ string) string {
	switch {
	case strings.Contains(typ, ".penal-record."):
		return "Fiche pénale"
	case strings.Contains(typ, ".custody-event."):
		return "Mouvement d'écrou"
	case strings.Contains(typ, ".judgment."):
		return "Décision"
	case strings.Contains(typ, ".measure."):
		return "Mesure"
	case strings.Contains(typ, ".case-transfer."):
		return "Dessaisissement"
	case strings.Contains(typ, ".report."):
		return "Rapport"
	}
	return typ
}

func (c *Console) buildJournal(ctx context.Context, person string) (*Journal, error) {
	j := &Journal{Person: person, Today: c.now().Format("2006-01-02"), Counts: map[string]int{}}
	ids, err := c.run.Store.PersonIdentifiers(ctx, person)
	if err != nil {
		return nil, err
	}
	j.Identifiers = visibleIdentifiers(ids)
	facts, err := c.run.Store.PersonJournal(ctx, person, 500)
	if err != nil {
		return nil, err
	}
	if j.Corrections, err = c.run.Store.CountPendingRectifications(ctx, person); err != nil {
		return nil, err
	}
	measures := map[string]struct {
		version int64
		m       Measure
	}{}
	for _, f := range facts {
		var data map[string]any
		if len(f.Data) > 0 {
			_ = json.Unmarshal(f.Data, &data)
		}
		if j.Name == "" {
			j.Name = personName(data)
		}
		e := Entry{At: f.EventTime, Type: f.Type, System: f.FactSystem, Ref: f.FactRef, Version: f.FactVersion,
			Connector: f.Connector, Summary: summary(f.Type, data), Deliveries: f.Deliveries, State: entryState(f.Deliveries)}
		if data == nil {
			e.Summary = "(payload purged by retention)"
		}
		j.Counts[e.State]++
		j.Entries = append(j.Entries, e)
		if strings.Contains(f.Type, ".measure.") && data != nil {
			if prev, ok := measures[f.FactRef]; !ok || f.FactVersion > prev.version {
				measures[f.FactRef] = struct {
					version int64
					m       Measure
				}{f.FactVersion, measureOf(f.FactRef, data, j.Today)}
			}
		}
	}
	for _, m := range measures {
		j.Measures = append(j.Measures, m.m)
	}
	order := map[string]int{"current": 0, "upcoming": 1, "past": 2}
	sort.Slice(j.Measures, func(a, b int) bool {
		ma, mb := j.Measures[a], j.Measures[b]
		if order[ma.Phase] != order[mb.Phase] {
			return order[ma.Phase] < order[mb.Phase]
		}
		return ma.Start > mb.Start
	})
	return j, nil
}

func entryState(ds []store.JournalDelivery) string {
	if len(ds) == 0 {
		return "unrouted"
	}
	state := "delivered"
	for _, d := range ds {
		switch d.Status {
		case store.StatusQuarantined:
			return "quarantined"
		case store.StatusPending:
			state = "pending"
		}
	}
	return state
}

func str(m map[string]any, key string) string {
	if m == nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}

func personName(data map[string]any) string {
	p, _ := data["person"].(map[string]any)
	if p == nil {
		return ""
	}
	name := str(p, "lastName")
	if fs, ok := p["firstNames"].([]any); ok {
		var parts []string
		for _, f := range fs {
			if s, ok := f.(string); ok {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			name += " " + strings.Join(parts, " ")
		}
	}
	return name
}

func measureOf(ref string, data map[string]any, today string) Measure {
	m := Measure{Ref: ref, Number: str(data, "measureNumber"), Kind: str(data, "kind"), Status: str(data, "status"),
		Court: str(data, "court"), Office: str(data, "spipOffice"), Decision: str(data, "decisionDate"),
		Start: str(data, "startDate"), End: str(data, "endDate")}
	switch {
	case m.Status == "TERMINEE" || (m.End != "" && m.End < today):
		m.Phase = "past"
	case m.Start != "" && m.Start > today:
		m.Phase = "upcoming"
	default:
		m.Phase = "current"
	}
	return m
}

// summary is one line of a fact's main fields (no names: they head the page).
func summary(typ string, data map[string]any) string {
	var parts []string
	add := func(label, v string) {
		if v != "" {
			parts = append(parts, label+v)
		}
	}
	switch {
	case strings.Contains(typ, ".measure."):
		add("", str(data, "kind"))
		add("", str(data, "status"))
		add("", str(data, "court"))
		if s, e := str(data, "startDate"), str(data, "endDate"); s != "" {
			add("du ", s)
			add("au ", e)
		}
	default:
		for _, k := range []string{"kind", "status", "establishmentCode", "establishment", "court", "decisionDate",
			"projectedReleaseDate", "eventDate", "reportKind"} {
			if v := str(data, k); v != "" {
				parts = append(parts, v)
			}
		}
	}
	return strings.Join(parts, " · ")
}
