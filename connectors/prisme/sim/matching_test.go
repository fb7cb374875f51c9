package sim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/prisme/sim"
)

func TestPersonMatching(t *testing.T) {
	e := newEnv(t)
	c := e.writer(t)
	push := func(kind sim.Kind, key string, body map[string]any) (sim.Accuse, string) {
		t.Helper()
		r := e.post(t, c, kind, key, body)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		reqs := e.srv.Requests()
		return r.accuse(t), reqs[len(reqs)-1].MatchedBy
	}
	withParquet := func(p map[string]any, np string) map[string]any {
		p["identifiants"].(map[string]any)["numerosParquet"] = []any{np}
		return p
	}

	t.Run("co-defendants sharing a numéro parquet get different dossiers", func(t *testing.T) {
		a, byA := push(sim.Decision, "co-1", decision("24050000777", 1,
			withParquet(personne("LEROY", "Marc", "1979-02-03", nil), "24050000777")))
		b, byB := push(sim.Decision, "co-2", decision("24050000777", 1,
			withParquet(personne("ROUX", "Kevin", "1991-07-30", nil), "24050000777")))
		assert.NotEqual(t, a.DossierID, b.DossierID)
		assert.Equal(t, "nouveau", byA)
		assert.Equal(t, "nouveau", byB)
		assert.True(t, b.Courant, "the decision key includes the dossier: the co-defendant's is not older")
		assert.Len(t, e.srv.Current(sim.Decision), 2)
	})

	t.Run("the same écrou gives the same dossier, across kinds and even with another name spelling", func(t *testing.T) {
		f, by := push(sim.FichePenale, "e-1", fiche("2025-0042", "MTZ01", 1,
			personne("PETIT", "Hugo", "1988-05-05", ecrouIDs("2025-0042", "MTZ01"))))
		assert.Equal(t, "nouveau", by)
		ev, by := push(sim.EvenementDetention, "e-2", custody(7, "ECROU", "2025-0042", "MTZ01",
			personne("PETIT-DURAND", "Hugo", "1988-05-05", ecrouIDs("2025-0042", "MTZ01"))))
		assert.Equal(t, f.DossierID, ev.DossierID)
		assert.Equal(t, "ecrou", by)
	})

	t.Run("an APPI file number links a mesure to the dossier that learned it", func(t *testing.T) {
		ids := ecrouIDs("2025-0100", "STR01")
		ids["numeroDossierAppi"] = "202312345678"
		f, _ := push(sim.FichePenale, "a-1", fiche("2025-0100", "STR01", 1, personne("KLEIN", "Emma", "1995-09-09", ids)))
		m, by := push(sim.Mesure, "a-2", mesure("M55", 1, personne("KLEIN", "Emma", "1995-09-10",
			map[string]any{"numeroDossierAppi": "202312345678"})))
		assert.Equal(t, f.DossierID, m.DossierID, "the APPI number wins over a birth date typed differently")
		assert.Equal(t, "appi", by)
	})

	t.Run("without a known identifier, nom and date de naissance match, whatever the case and accents", func(t *testing.T) {
		f, _ := push(sim.FichePenale, "n-1", fiche("2025-0200", "NCY01", 1,
			personne("LEFÈVRE", "Chloé", "2000-01-31", ecrouIDs("2025-0200", "NCY01"))))
		d, by := push(sim.Decision, "n-2", decision("25010000001", 1, personne("Lefevre", "Chloé", "2000-01-31", nil)))
		assert.Equal(t, f.DossierID, d.DossierID)
		assert.Equal(t, "nom-naissance", by)
	})

	t.Run("a namesake born the same day with another APPI number is another person", func(t *testing.T) {
		a, _ := push(sim.Mesure, "h-1", mesure("M70", 1, personne("MARTIN", "Léa", "1990-01-01",
			map[string]any{"numeroDossierAppi": "202300000070"})))
		b, by := push(sim.Mesure, "h-2", mesure("M71", 1, personne("MARTIN", "Léa", "1990-01-01",
			map[string]any{"numeroDossierAppi": "202300000071"})))
		assert.NotEqual(t, a.DossierID, b.DossierID)
		assert.Equal(t, "nouveau", by)
	})

	t.Run("a numéro parquet alone never matches", func(t *testing.T) {
		a, _ := push(sim.Decision, "p-1", decision("25020000002", 1,
			withParquet(personne("SIMON", "Yann", "1970-10-10", nil), "25020000002")))
		b, _ := push(sim.Mesure, "p-2", mesure("M80", 1,
			withParquet(personne("WEBER", "Julie", "1982-12-12", nil), "25020000002")))
		assert.NotEqual(t, a.DossierID, b.DossierID)
	})

	t.Run("a dossierId never changes once answered", func(t *testing.T) {
		before := map[string]sim.Dossier{}
		for _, d := range e.srv.Dossiers() {
			before[d.ID] = d
		}
		a, _ := push(sim.FichePenale, "s-1", fiche("2025-0042", "MTZ01", 2,
			personne("PETIT", "Hugo", "1988-05-05", ecrouIDs("2025-0042", "MTZ01"))))
		assert.Contains(t, before, a.DossierID)
		for _, d := range e.srv.Dossiers() {
			if old, ok := before[d.ID]; ok {
				assert.Equal(t, old.Nom, d.Nom)
				assert.Equal(t, old.CreeLe, d.CreeLe)
			}
		}
	})

	t.Run("a dossier shows the identifiers it learned", func(t *testing.T) {
		var klein sim.Dossier
		for _, d := range e.srv.Dossiers() {
			if d.Nom == "KLEIN" {
				klein = d
			}
		}
		assert.Equal(t, []sim.Ecrou{{NumeroEcrou: "2025-0100", CodeEtablissement: "STR01"}}, klein.Ecrous)
		assert.Equal(t, "202312345678", klein.NumeroDossierAppi)
		assert.Regexp(t, `^D-\d{6}$`, klein.ID)
	})
}
