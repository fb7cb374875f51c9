package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// faultWire is a Fault as the /_sim/ API reads and writes it (durations in seconds and
// milliseconds).
type faultWire struct {
	FailNext           int     `json:"failNext"`
	FailFraction       float64 `json:"failFraction"`
	Status             int     `json:"status"`
	RetryAfterSeconds  float64 `json:"retryAfterSeconds"`
	LatencyMillis      int64   `json:"latencyMs"`
	DropReplyNext      int     `json:"dropReplyNext"`
	DropReplyFraction  float64 `json:"dropReplyFraction"`
	RepeatPageNext     int     `json:"repeatPageNext"`
	RepeatPageFraction float64 `json:"repeatPageFraction"`
}

// toWire renders a Fault for the API.
func toWire(f Fault) faultWire {
	return faultWire{FailNext: f.FailNext, FailFraction: f.FailFraction, Status: f.Status,
		RetryAfterSeconds: f.RetryAfter.Seconds(), LatencyMillis: f.Latency.Milliseconds(),
		DropReplyNext: f.DropReplyNext, DropReplyFraction: f.DropReplyFraction,
		RepeatPageNext: f.RepeatPageNext, RepeatPageFraction: f.RepeatPageFraction}
}

// fromWire reads a Fault from the API.
func fromWire(w faultWire) Fault {
	return Fault{FailNext: w.FailNext, FailFraction: w.FailFraction, Status: w.Status,
		RetryAfter: time.Duration(w.RetryAfterSeconds * float64(time.Second)),
		Latency:    time.Duration(w.LatencyMillis) * time.Millisecond, DropReplyNext: w.DropReplyNext,
		DropReplyFraction: w.DropReplyFraction, RepeatPageNext: w.RepeatPageNext,
		RepeatPageFraction: w.RepeatPageFraction}
}

// maxSimBody bounds the bodies of the /_sim/ API.
const maxSimBody = 1 << 20

// simRoutes registers the read and control API for tests and the demo, under /_sim/,
// without authentication:
//
//	GET    /_sim/requests              every request received, in order
//	GET    /_sim/current/{kind}        the current item per key
//	GET    /_sim/history/{kind}        every stored item, in order
//	DELETE /_sim/items/{kind}?key=K    delete the items of a key behind the partners' back
//	GET    /_sim/dossiers              the dossiers and their identifiers
//	GET    /_sim/stats                 counters
//	GET    /_sim/events                the outgoing events
//	POST   /_sim/events                add an event (an EvenementSortant)
//	POST   /_sim/events/raw            add an event as raw JSON, unchecked (AddRawEvent)
//	POST   /_sim/events/generate?n=N   add N generated events
//	GET    /_sim/pieces/{sha256}       a generated document by hash
//	GET    /_sim/faults                the fault plan of every endpoint
//	PUT    /_sim/faults/{endpoint}     replace an endpoint's fault
//	DELETE /_sim/faults                clear every fault
//	POST   /_sim/tokens/revoke         revoke every token
//	GET    /_sim/openapi.yaml          the contract implemented
func (s *Server) simRoutes(mux *http.ServeMux) {
	kindOf := func(w http.ResponseWriter, r *http.Request) (Kind, bool) {
		k := Kind(r.PathValue("kind"))
		if !k.Valid() {
			writeProblem(w, nil, newProblem(http.StatusNotFound, "type-inconnu",
				"type d'élément inconnu : fiches-penales, decisions, mesures ou evenements-detention"))
			return "", false
		}
		return k, true
	}
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, nil, http.StatusOK, s.Requests())
	})
	mux.HandleFunc("GET /_sim/current/{kind}", func(w http.ResponseWriter, r *http.Request) {
		if k, ok := kindOf(w, r); ok {
			s.writeCurrent(w, k)
		}
	})
	mux.HandleFunc("GET /_sim/history/{kind}", func(w http.ResponseWriter, r *http.Request) {
		if k, ok := kindOf(w, r); ok {
			writeJSON(w, nil, http.StatusOK, s.History(k))
		}
	})
	mux.HandleFunc("DELETE /_sim/items/{kind}", func(w http.ResponseWriter, r *http.Request) {
		k, ok := kindOf(w, r)
		if !ok {
			return
		}
		switch err := s.DeleteItem(k, r.URL.Query().Get("key")); {
		case errors.Is(err, ErrNotFound):
			writeProblem(w, nil, newProblem(http.StatusNotFound, "element-inconnu", "aucun élément sous cette clé"))
		case err != nil:
			writeProblem(w, nil, newProblem(http.StatusBadRequest, "requete", err.Error()))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("GET /_sim/dossiers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, nil, http.StatusOK, s.Dossiers())
	})
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, nil, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /_sim/events", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, nil, http.StatusOK, s.Events())
	})
	mux.HandleFunc("POST /_sim/events", func(w http.ResponseWriter, r *http.Request) {
		var ev Evenement
		if !decodeSimBody(w, r, &ev) {
			return
		}
		stored, err := s.AddEvent(ev)
		if err != nil {
			writeProblem(w, nil, newProblem(http.StatusUnprocessableEntity, "evenement-invalide", err.Error()))
			return
		}
		writeJSON(w, nil, http.StatusCreated, stored)
	})
	mux.HandleFunc("POST /_sim/events/raw", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSimBody))
		if err != nil {
			writeProblem(w, nil, newProblem(http.StatusBadRequest, "json-mal-forme", err.Error()))
			return
		}
		cursor, err := s.AddRawEvent(raw)
		if err != nil {
			writeProblem(w, nil, newProblem(http.StatusUnprocessableEntity, "evenement-invalide", err.Error()))
			return
		}
		writeJSON(w, nil, http.StatusCreated, map[string]string{"curseur": cursor})
	})
	mux.HandleFunc("POST /_sim/events/generate", func(w http.ResponseWriter, r *http.Request) {
		n := 1
		if v := r.URL.Query().Get("n"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 10_000 {
				writeProblem(w, nil, newProblem(http.StatusBadRequest, "requete", "n : entier de 1 à 10000 attendu"))
				return
			}
		}
		evs, err := s.GenerateEvents(n)
		if err != nil {
			writeProblem(w, nil, newProblem(http.StatusInternalServerError, "generation", err.Error()))
			return
		}
		writeJSON(w, nil, http.StatusCreated, evs)
	})
	mux.HandleFunc("GET /_sim/pieces/{sha}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := s.PieceContent(r.PathValue("sha"))
		if !ok {
			writeProblem(w, nil, newProblem(http.StatusNotFound, "piece-inconnue", "aucune pièce sous ce condensat"))
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		out := make(map[Endpoint]faultWire, len(endpoints))
		for _, ep := range endpoints {
			out[ep] = toWire(s.faults.Get(ep))
		}
		writeJSON(w, nil, http.StatusOK, out)
	})
	mux.HandleFunc("PUT /_sim/faults/{endpoint}", func(w http.ResponseWriter, r *http.Request) {
		var fw faultWire
		if !decodeSimBody(w, r, &fw) {
			return
		}
		ep := Endpoint(r.PathValue("endpoint"))
		if err := s.faults.Set(ep, fromWire(fw)); err != nil {
			writeProblem(w, nil, newProblem(http.StatusBadRequest, "panne-invalide", err.Error()))
			return
		}
		writeJSON(w, nil, http.StatusOK, toWire(s.faults.Get(ep)))
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.faults.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/tokens/revoke", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, nil, http.StatusOK, map[string]int{"revoked": s.RevokeTokens()})
	})
	mux.HandleFunc("GET /_sim/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
}

// writeCurrent answers GET /_sim/current/{kind}: the JSON object of Current(kind), by
// key in increasing order, written item by item, so that a national caseload's
// inventory (hundreds of thousands of items) is never one buffer in memory. Items are
// never changed once stored: the pointers taken under the lock stay valid.
func (s *Server) writeCurrent(w http.ResponseWriter, kind Kind) {
	s.mu.Lock()
	ks := s.stores[kind]
	keys := make([]string, 0, len(ks.current))
	items := make(map[string]*Item, len(ks.current))
	for k, it := range ks.current {
		keys = append(keys, k)
		items[k] = it
	}
	s.mu.Unlock()
	slices.Sort(keys)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	_ = bw.WriteByte('{')
	for i, k := range keys {
		key, _ := json.Marshal(k)
		item, err := json.Marshal(items[k])
		if err != nil {
			return // cannot happen (an Item always encodes); the client sees a truncated body
		}
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, _ = bw.Write(key)
		_ = bw.WriteByte(':')
		if _, err := bw.Write(item); err != nil {
			return // the client went away
		}
	}
	_ = bw.WriteByte('}')
	_ = bw.Flush()
}

// decodeSimBody decodes a JSON body of the /_sim/ API, refusing unknown fields.
func decodeSimBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSimBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeProblem(w, nil, newProblem(http.StatusBadRequest, "json-mal-forme", err.Error()))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeProblem(w, nil, newProblem(http.StatusBadRequest, "json-mal-forme", "un seul document JSON attendu"))
		return false
	}
	return true
}
