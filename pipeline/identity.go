package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"passerelle/pipeline/store"
)

// Identity systems of the identities table.
const (
	IDEcrou     = "ECROU"      // numéro d'écrou + code établissement (GENESIS)
	IDAppi      = "APPI"       // numéro de dossier APPI
	IDPrisme    = "PRISME"     // dossierId PRISME
	IDPersonKey = "PERSON_KEY" // exact name + first names + birth date, hashed
)

type personIdentity struct {
	Person *struct {
		LastName    string   `json:"lastName"`
		FirstNames  []string `json:"firstNames"`
		BirthDate   string   `json:"birthDate"`
		Identifiers struct {
			CommittalNumber   string `json:"committalNumber"`
			EstablishmentCode string `json:"establishmentCode"`
			AppiFileNumber    string `json:"appiFileNumber"`
			PrismeFileID      string `json:"prismeFileId"`
		} `json:"identifiers"`
	} `json:"person"`
}

// identifiersOf returns the identifiers of the person a message's data is about, the
// systems' own identifiers first, then the exact name + birth date key. Numéros parquet
// are never used: co-defendants share them.
func identifiersOf(data []byte) []store.Identifier {
	var p personIdentity
	if err := json.Unmarshal(data, &p); err != nil || p.Person == nil {
		return nil
	}
	var ids []store.Identifier
	idf := p.Person.Identifiers
	if idf.CommittalNumber != "" && idf.EstablishmentCode != "" {
		ids = append(ids, store.Identifier{System: IDEcrou, Value: idf.CommittalNumber + "@" + idf.EstablishmentCode})
	}
	if idf.AppiFileNumber != "" {
		ids = append(ids, store.Identifier{System: IDAppi, Value: idf.AppiFileNumber})
	}
	if idf.PrismeFileID != "" {
		ids = append(ids, store.Identifier{System: IDPrisme, Value: idf.PrismeFileID})
	}
	if p.Person.LastName != "" && p.Person.BirthDate != "" {
		ids = append(ids, store.Identifier{System: IDPersonKey, Value: PersonKey(p.Person.LastName, p.Person.FirstNames, p.Person.BirthDate)})
	}
	return ids
}

// PersonKey is the exact-match key of a person's name, first names and birth date:
// upper-cased, hashed, so that no name sits in the identities table's key.
func PersonKey(lastName string, firstNames []string, birthDate string) string {
	h := sha256.New()
	h.Write([]byte(strings.ToUpper(strings.TrimSpace(lastName))))
	h.Write([]byte{0})
	for _, f := range firstNames {
		h.Write([]byte(strings.ToUpper(strings.TrimSpace(f))))
		h.Write([]byte{' '})
	}
	h.Write([]byte{0})
	h.Write([]byte(birthDate))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
