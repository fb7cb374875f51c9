package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
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

// identifiersOf returns the identifiers of the person a message's data is about, the
// systems' own identifiers first, then the exact name + birth date key. Numéros parquet
// are never used: co-defendants share them.
//
// data is the message's data as the Ingester already decoded it (jsonstrict), so that
// the payload is not decoded a second time. It reads the fields as encoding/json would
// into their Go types: a missing or null field is empty, and a field of the wrong JSON
// type anywhere on the person's path (person, lastName, firstNames, birthDate,
// identifiers and its four fields) leaves the person unknown (nil), as a decoding
// error did. (One difference, on data the closed schemas refuse anyway: keys match
// exactly, where encoding/json also matched them regardless of case.)
func identifiersOf(data any) []store.Identifier {
	p, ok := personOf(data)
	if !ok {
		return nil
	}
	var ids []store.Identifier
	if p.committalNumber != "" && p.establishmentCode != "" {
		ids = append(ids, store.Identifier{System: IDEcrou, Value: p.committalNumber + "@" + p.establishmentCode})
	}
	if p.appiFileNumber != "" {
		ids = append(ids, store.Identifier{System: IDAppi, Value: p.appiFileNumber})
	}
	if p.prismeFileID != "" {
		ids = append(ids, store.Identifier{System: IDPrisme, Value: p.prismeFileID})
	}
	if p.lastName != "" && p.birthDate != "" {
		ids = append(ids, store.Identifier{System: IDPersonKey, Value: PersonKey(p.lastName, p.firstNames, p.birthDate)})
	}
	return ids
}

// personFields are the fields of data.person that identify a person.
type personFields struct {
	lastName, birthDate                                              string
	firstNames                                                       []string
	committalNumber, establishmentCode, appiFileNumber, prismeFileID string
}

// personOf reads data.person; ok is false when there is no person or a field has the
// wrong type.
func personOf(data any) (p personFields, ok bool) {
	root, isObj := data.(map[string]any)
	if !isObj {
		return p, false
	}
	person, isObj := root["person"].(map[string]any)
	if !isObj {
		return p, false // absent, null or not an object
	}
	ok = stringField(person, "lastName", &p.lastName) && stringField(person, "birthDate", &p.birthDate)
	switch names := person["firstNames"].(type) {
	case nil:
	case []any:
		p.firstNames = make([]string, len(names))
		for i, n := range names {
			switch n := n.(type) {
			case nil:
			case string:
				p.firstNames[i] = n
			default:
				ok = false
			}
		}
	default:
		ok = false
	}
	switch idf := person["identifiers"].(type) {
	case nil:
	case map[string]any:
		ok = ok && stringField(idf, "committalNumber", &p.committalNumber) && stringField(idf, "establishmentCode", &p.establishmentCode) &&
			stringField(idf, "appiFileNumber", &p.appiFileNumber) && stringField(idf, "prismeFileId", &p.prismeFileID)
	default:
		ok = false
	}
	return p, ok
}

// stringField sets dst to obj[key] when it is a string, leaves it empty when it is
// missing or null, and reports false when it is anything else.
func stringField(obj map[string]any, key string, dst *string) bool {
	switch v := obj[key].(type) {
	case nil:
		return true
	case string:
		*dst = v
		return true
	default:
		return false
	}
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
