package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted, in characters.
const maxIdempotencyKey = 128

// idemKey scopes an Idempotency-Key: per client and per endpoint.
type idemKey struct {
	clientID string
	kind     Kind
	key      string
}

// idemEntry is a remembered 201.
type idemEntry struct {
	at      time.Time
	value   [32]byte // the body's jsonDigest: bodies are compared as JSON values
	accuse  Accuse
	itemKey string
}

// facts is what PRISME reads of a body besides validating it.
type facts struct {
	key          string // item key; for a décision, completed with the dossier
	parquet      string // décision only
	version      int64
	versionField string
	versionOK    bool
	person       person
	personOK     bool
}

// versionField names the field ordering the states of an item of kind.
func versionField(kind Kind) string {
	switch kind {
	case Decision:
		return "numeroTransmission"
	case EvenementDetention:
		return "sequenceGenesis"
	default:
		return "version"
	}
}

// readFacts reads the key, version and person of a decoded body. It never fails: on a
// body the schema refuses, what is missing stays empty.
func readFacts(kind Kind, v any) facts {
	m, _ := v.(map[string]any)
	f := facts{versionField: versionField(kind)}
	if n, ok := m[f.versionField].(json.Number); ok {
		f.version, f.versionOK = int64Of(n)
	}
	switch kind {
	case FichePenale:
		ne, ok1 := m["numeroEcrou"].(string)
		ce, ok2 := m["codeEtablissement"].(string)
		if ok1 && ok2 {
			f.key = FicheKey(ne, ce)
		}
	case Decision:
		f.parquet, _ = m["numeroParquet"].(string)
	case Mesure:
		f.key, _ = m["numeroMesure"].(string)
	case EvenementDetention:
		if f.versionOK {
			f.key = EvenementDetentionKey(f.version)
		}
	}
	if p, ok := m["personne"].(map[string]any); ok {
		f.person, f.personOK = readPerson(p)
	}
	return f
}

// readPerson reads a `personne` object; false when nom or dateNaissance is missing.
func readPerson(p map[string]any) (person, bool) {
	var out person
	out.nom, _ = p["nom"].(string)
	out.dateNaissance, _ = p["dateNaissance"].(string)
	if prenoms, ok := p["prenoms"].([]any); ok {
		for _, x := range prenoms {
			if s, ok := x.(string); ok {
				out.prenoms = append(out.prenoms, s)
			}
		}
	}
	if ids, ok := p["identifiants"].(map[string]any); ok {
		ne, _ := ids["numeroEcrou"].(string)
		ce, _ := ids["codeEtablissement"].(string)
		if ne != "" && ce != "" {
			out.ecrou = &Ecrou{NumeroEcrou: ne, CodeEtablissement: ce}
		}
		out.appi, _ = ids["numeroDossierAppi"].(string)
		if nps, ok := ids["numerosParquet"].([]any); ok {
			for _, x := range nps {
				if s, ok := x.(string); ok {
					out.parquets = append(out.parquets, s)
				}
			}
		}
	}
	return out, out.nom != "" && out.dateNaissance != ""
}

// writeHandler serves POST /api/v1/<kind>. The body is read and described in the
// request log before anything else is checked, so that the log shows what every
// request carried, even one refused for its token or failed by an injected fault.
func (s *Server) writeHandler(kind Kind) func(http.ResponseWriter, *http.Request, *exchange) {
	ep := Endpoint(kind)
	return func(w http.ResponseWriter, r *http.Request, rec *exchange) {
		s.delay(r, ep)
		jsonBody := isJSONContent(r.Header.Get("Content-Type"))
		var (
			body    []byte
			readErr *Problem
			value   any
			decErr  error
			f       facts
		)
		if jsonBody {
			body, readErr = readBody(w, r)
			if readErr == nil {
				if value, decErr = decodeJSON(body); decErr == nil {
					f = readFacts(kind, value)
					s.describe(rec, kind, f)
				}
			}
		}
		if !s.authorize(w, r, rec, ScopeEcriture) || s.injectFailure(w, rec, ep) {
			return
		}
		switch {
		case !jsonBody:
			writeProblem(w, rec, newProblem(http.StatusUnsupportedMediaType, "type-de-contenu",
				"Content-Type: application/json attendu"))
			return
		case readErr != nil:
			writeProblem(w, rec, *readErr)
			return
		}
		if n := utf8.RuneCountInString(rec.IdempotencyKey); n == 0 || n > maxIdempotencyKey {
			writeProblem(w, rec, newProblem(http.StatusBadRequest, "cle-idempotence",
				fmt.Sprintf("en-tête Idempotency-Key obligatoire, de 1 à %d caractères", maxIdempotencyKey)))
			return
		}
		if decErr != nil {
			writeProblem(w, rec, newProblem(http.StatusBadRequest, "json-mal-forme",
				"corps JSON mal formé : un seul document JSON attendu"))
			return
		}
		if vs := s.violations(kind, value, f); len(vs) > 0 {
			p := newProblem(http.StatusUnprocessableEntity, "validation",
				fmt.Sprintf("%d violation(s) du schéma %s", len(vs), kind.schemaName()))
			p.Errors = vs
			writeProblem(w, rec, p)
			return
		}
		status, acc := s.apply(kind, rec, value, body, f)
		switch status {
		case http.StatusConflict:
			writeProblem(w, rec, newProblem(http.StatusConflict, "cle-deja-utilisee",
				"cette clé d'idempotence a déjà servi pour un autre contenu sur ce point d'entrée"))
			return
		case http.StatusCreated:
			if s.faults.takeDrop(ep) {
				rec.Status, rec.ReplyDropped, rec.Fault = http.StatusCreated, true, "drop-reply"
				rec.commit()
				dropConnection(w)
				return
			}
		}
		writeJSON(w, rec, status, acc)
	}
}

// isJSONContent accepts application/json, with at most a UTF-8 charset.
func isJSONContent(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// readBody reads at most MaxBodyBytes; the problem to answer is 413 above, 400 on a
// read error.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Problem) {
	tooLarge := newProblem(http.StatusRequestEntityTooLarge, "corps-trop-volumineux",
		fmt.Sprintf("corps limité à %d octets (1 Mio)", MaxBodyBytes))
	if r.ContentLength > MaxBodyBytes {
		return nil, &tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, &tooLarge
	case err != nil:
		p := newProblem(http.StatusBadRequest, "corps-illisible", "corps de requête illisible")
		return nil, &p
	}
	return body, nil
}

// describe records the item's key and version in the request log, even when the
// request fails further on. A décision's key needs its dossier: when the person matches
// none yet, the key ends with "@?".
func (s *Server) describe(rec *exchange, kind Kind, f facts) {
	if f.versionOK {
		v := f.version
		rec.Version = &v
	}
	rec.ItemKey = f.key
	if kind == Decision && f.parquet != "" {
		dossier := "?"
		if f.personOK {
			s.mu.Lock()
			if d, _ := s.people.find(f.person); d != nil {
				dossier = d.ID
			}
			s.mu.Unlock()
		}
		rec.ItemKey = DecisionKey(f.parquet, dossier)
	}
}

// violations lists why PRISME refuses the body (422): numbers out of range, the
// contract's schema, then a version that does not fit 64 bits.
func (s *Server) violations(kind Kind, value any, f facts) []Violation {
	if vs := numberViolations(value, "", nil); len(vs) > 0 {
		return vs
	}
	if err := s.schemas.byKind[kind].Validate(value); err != nil {
		return schemaViolations(err)
	}
	if !f.versionOK {
		return []Violation{{Pointer: "/" + f.versionField,
			Detail: "entier hors de la plage gérée par PRISME (64 bits signés)"}}
	}
	return nil
}

// apply answers a valid write: the remembered result for a known Idempotency-Key
// (200, or 409 for another body), else it matches the person, stores the item (newest
// wins) and remembers the 201.
func (s *Server) apply(kind Kind, rec *exchange, value any, body []byte, f facts) (int, Accuse) {
	now := s.now().UTC()
	digest := jsonDigest(value) // before the lock: writes of other lanes go on meanwhile
	s.mu.Lock()
	defer s.mu.Unlock()
	ik := idemKey{clientID: rec.ClientID, kind: kind, key: rec.IdempotencyKey}
	if e, ok := s.idem[ik]; ok {
		if now.Sub(e.at) < s.opts.IdempotencyRetention {
			if e.value != digest {
				return http.StatusConflict, Accuse{}
			}
			s.noteAccuse(rec, e.accuse)
			return http.StatusOK, e.accuse
		}
		delete(s.idem, ik)
	}
	ks := s.stores[kind]
	var (
		dossierID, by, key string
		cur                *Item
		held               bool
	)
	if kind == EvenementDetention {
		// A custody event already held changes nothing, not even the dossiers: it is
		// answered with the dossier of the event held.
		key = f.key
		if cur, held = ks.current[key]; held {
			dossierID, by = cur.DossierID, matchedByHeld
		}
	}
	if dossierID == "" {
		d, matched := s.people.matchOrCreate(f.person, now)
		dossierID, by, key = d.ID, matched, f.key
		if kind == Decision {
			key = DecisionKey(f.parquet, d.ID)
		}
		cur, held = ks.current[key]
	}
	courant := !held || (kind != EvenementDetention && f.version >= cur.Version)
	s.itemSeq[kind]++
	item := &Item{ID: fmt.Sprintf("%s-%06d", kind.idPrefix(), s.itemSeq[kind]), Kind: kind, Key: key,
		Version: f.version, DossierID: dossierID, RecuLe: now, Courant: courant, ClientID: rec.ClientID,
		IdempotencyKey: rec.IdempotencyKey, Body: bodyCopy(body)}
	ks.history = append(ks.history, item)
	if courant {
		ks.current[key] = item
	}
	acc := Accuse{ID: item.ID, DossierID: dossierID, RecuLe: now, Courant: courant}
	s.idem[ik] = idemEntry{at: now, value: digest, accuse: acc, itemKey: key}
	rec.ItemKey, rec.MatchedBy = key, by
	s.noteAccuse(rec, acc)
	return http.StatusCreated, acc
}

// noteAccuse copies an Accuse into the request log.
func (s *Server) noteAccuse(rec *exchange, acc Accuse) {
	c := acc.Courant
	rec.ItemID, rec.DossierID, rec.Courant = acc.ID, acc.DossierID, &c
}

// dropConnection closes the connection without answering: the item is stored but the
// client never learns it. Go's Transport replays a POST carrying an Idempotency-Key once
// when a reused connection closes before any response; the replay gets 200.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hijack: aborting the handler resets the stream instead, the
		// net/http way to abandon a response (recovered by the server, not a crash).
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
