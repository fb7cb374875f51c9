package declarative

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/connectortest"
	"passerelle/connectors/declarative/sim"
)

// acceptanceExport is the files fixture: 60 rows over four antennes, one in ten
// malformed.
func acceptanceExport() sim.Export {
	return sim.APPIExport(sim.ExportOptions{Seed: 9, Rows: 60, MalformedEvery: 10})
}

func TestTheFilesSourcePassesTheAcceptanceSuite(t *testing.T) {
	ex := acceptanceExport()
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: Spec,
		Start: func(t *testing.T) connectortest.System {
			dir := t.TempDir()
			require.NoError(t, ex.Drop(dir))
			s := exampleSettings(t, dir)
			s["batchSize"] = 7
			return connectortest.System{Settings: s}
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "no folder", Settings: map[string]any{"type": "measure", "system": "APPI"}},
			{Name: "a required field unmapped", Settings: func() map[string]any {
				s := exampleSettings(t, t.TempDir())
				m := map[string]any{}
				for k, v := range s["mapping"].(map[string]any) {
					if k != "status" {
						m[k] = v
					}
				}
				s["mapping"] = m
				return s
			}(), Path: "mapping"},
			{Name: "an unknown encoding", Settings: func() map[string]any {
				s := exampleSettings(t, t.TempDir())
				s["files"].(map[string]any)["encoding"] = "ebcdic"
				return s
			}(), Path: "files.encoding"},
		},
		Canaries:  ex.Canaries,
		MinFailed: ex.Malformed,
		Golden:    filepath.Join("testdata", "files.golden.json"),
		Update:    *update,
	})
}

// feedItems are the HTTP fixture: 25 measures as JSON records, two of them broken.
func feedItems() ([]map[string]any, []string) {
	var items []map[string]any
	var canaries []string
	for i := 1; i <= 25; i++ {
		name := fmt.Sprintf("NOMFEED%03d", i)
		canaries = append(canaries, name)
		item := map[string]any{
			"id": fmt.Sprintf("F%04d", i), "rev": i, "kind": "TIG", "court": "TJ LYON",
			"decided": "2024-03-01", "status": "EN_COURS", "obligations": []any{"SOINS"},
			"person": map[string]any{"nom": name, "prenoms": []any{"Zoé"}, "naissance": "1990-05-17", "dossier": fmt.Sprintf("D%05d", i)},
		}
		switch i {
		case 7:
			item["decided"] = "2024-02-31" // an impossible date: the schema refuses it
		case 19:
			delete(item, "rev") // no version: no identity
		}
		items = append(items, item)
	}
	return items, append(canaries, "1990-05-17")
}

// feedSettings are the settings of the HTTP source over url.
func feedSettings(url string) map[string]any {
	return map[string]any{
		"type": "measure", "system": "PARTNER",
		"http": map[string]any{"url": url, "timeout": "5s"},
		"fact": map[string]any{"ref": `"mesure/" + row.id`, "version": "int(row.rev)"},
		"mapping": map[string]any{
			"version": "int(row.rev)", "measureNumber": "row.id", "kind": "row.kind", "court": "row.court",
			"decisionDate": "row.decided", "obligations": "row.obligations", "status": "row.status",
			"person.lastName": "row.person.nom", "person.firstNames": "row.person.prenoms",
			"person.birthDate": "row.person.naissance", "person.identifiers.appiFileNumber": "row.person.dossier",
		},
	}
}

func TestTheHTTPSourcePassesTheAcceptanceSuite(t *testing.T) {
	items, canaries := feedItems()
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: Spec,
		Start: func(t *testing.T) connectortest.System {
			feed := sim.NewFeed(items)
			feed.PageSize = 6
			srv := httptest.NewServer(feed)
			t.Cleanup(srv.Close)
			return connectortest.System{
				Settings:   feedSettings(srv.URL + "/records"),
				Calls:      feed.Calls,
				SetLatency: feed.SetLatency,
				Fail: func(f connectortest.Fault) {
					switch f {
					case connectortest.TransientFault:
						feed.Fail(http.StatusServiceUnavailable)
					default:
						feed.Fail(0)
					}
				},
			}
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "a url that is not http", Settings: feedSettings("ftp://x"), Path: "http.url"},
			{Name: "a negative timeout", Settings: func() map[string]any {
				s := feedSettings("http://127.0.0.1:1/")
				s["http"].(map[string]any)["timeout"] = "-1s"
				return s
			}(), Path: "http.timeout"},
		},
		Canaries:  canaries,
		MinFailed: 2,
		Golden:    filepath.Join("testdata", "http.golden.json"),
		Update:    *update,
	})
}
