package sim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a GENESIS FichePenale simulator. Serve its Handler over HTTP
// (httptest.NewServer in tests, an http.Server in the demo). Its methods are safe for
// concurrent use.
type Server struct {
	opts   Options
	state  *State
	faults *Faults

	mu       sync.Mutex
	counters Counters
}

// Counters count what the simulator answered, for tests and the demo.
type Counters struct {
	// ListerMouvements and ConsulterFichePenale count the calls of each operation
	// (by SOAPAction), whatever their outcome, 503s included.
	ListerMouvements     int64 `json:"listerMouvements"`
	ConsulterFichePenale int64 `json:"consulterFichePenale"`
	// WSDL counts GET ?wsdl.
	WSDL int64 `json:"wsdl"`
	// Unavailable counts the 503 ServiceIndisponible answers.
	Unavailable int64 `json:"unavailable"`
	// FicheInconnue counts the FicheInconnue faults.
	FicheInconnue int64 `json:"ficheInconnue"`
	// ClientFaults counts the other soap:Client faults (bad request, nombreMax, ...).
	ClientFaults int64 `json:"clientFaults"`
	// Delayed counts the calls given a latency.
	Delayed int64 `json:"delayed"`
	// Repeats counts the repeated movements served.
	Repeats int64 `json:"repeats"`
	// VersionBumps counts the versions bumped without a movement by the fault.
	VersionBumps int64 `json:"versionBumps"`
	// Other counts the requests refused at the HTTP level (404, 405, 413, 415).
	Other int64 `json:"other"`
}

// New returns a simulator configured by opts (zero fields take their defaults),
// healthy until its Faults say otherwise.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	return &Server{opts: opts, state: opts.State, faults: newFaults(opts.Seed)}
}

// State is the data the simulator serves; tests and the demo drive it.
func (s *Server) State() *State { return s.state }

// Faults is the fault configuration, switchable at run time.
func (s *Server) Faults() *Faults { return s.faults }

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

// ResetCounters sets every counter to 0.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = Counters{}
}

// count applies change to the counters.
func (s *Server) count(change func(*Counters)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.counters)
}

// Handler serves the service at Options.Path: POST for SOAP calls, GET ?wsdl for the
// service description.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.opts.Path {
		s.count(func(c *Counters) { c.Other++ })
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.serveSOAP(w, r)
	case http.MethodGet, http.MethodHead:
		if !isWSDLQuery(r.URL.RawQuery) {
			s.count(func(c *Counters) { c.Other++ })
			http.Error(w, "GET serves the service description only: ?wsdl", http.StatusNotFound)
			return
		}
		s.count(func(c *Counters) { c.WSDL++ })
		s.serveWSDL(w, r)
	default:
		s.count(func(c *Counters) { c.Other++ })
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// isWSDLQuery reports whether the query asks for the WSDL (?wsdl, ?WSDL, ?wsdl=).
func isWSDLQuery(q string) bool {
	name, _, _ := strings.Cut(q, "=")
	return strings.EqualFold(name, "wsdl")
}

// serveWSDL answers the embedded WSDL with soap:address pointing at this server.
func (s *Server) serveWSDL(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	doc := bytes.Replace(WSDL, []byte(`location="http://127.0.0.1:8081/genesis/ws/fichepenale"`),
		[]byte(`location="`+xmlAttrEscape(scheme+"://"+r.Host+s.opts.Path)+`"`), 1)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(doc)
}

// xmlAttrEscape escapes s for an attribute value.
func xmlAttrEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// operation is a SOAP operation of the service.
type operation int

const (
	opUnknown operation = iota
	opListerMouvements
	opConsulterFichePenale
)

// operationOf maps a SOAPAction header (quoted or not, as SOAP 1.1 allows) to its
// operation.
func operationOf(action string) operation {
	switch strings.Trim(strings.TrimSpace(action), `"`) {
	case Namespace + "#ListerMouvements":
		return opListerMouvements
	case Namespace + "#ConsulterFichePenale":
		return opConsulterFichePenale
	}
	return opUnknown
}

// The request envelope. Children are matched in the GENESIS namespace only: the
// schema's elementFormDefault is "qualified", so an unqualified child is not the
// element the WSDL defines, and its absence is answered as such.
type requestEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Lister    *listerRequest    `xml:"urn:justice:genesis:fichepenale:v1 ListerMouvements"`
		Consulter *consulterRequest `xml:"urn:justice:genesis:fichepenale:v1 ConsulterFichePenale"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type listerRequest struct {
	DepuisSequence *string `xml:"urn:justice:genesis:fichepenale:v1 depuisSequence"`
	NombreMax      *string `xml:"urn:justice:genesis:fichepenale:v1 nombreMax"`
}

type consulterRequest struct {
	NumeroEcrou       *string `xml:"urn:justice:genesis:fichepenale:v1 numeroEcrou"`
	CodeEtablissement *string `xml:"urn:justice:genesis:fichepenale:v1 codeEtablissement"`
}

// serveSOAP answers one SOAP call: the proxy's 503 first, then the service's latency,
// then the operation.
func (s *Server) serveSOAP(w http.ResponseWriter, r *http.Request) {
	op := operationOf(r.Header.Get("SOAPAction"))
	s.count(func(c *Counters) {
		switch op {
		case opListerMouvements:
			c.ListerMouvements++
		case opConsulterFichePenale:
			c.ConsulterFichePenale++
		}
	})

	if down, retryAfter := s.faults.unavailable(); down {
		s.count(func(c *Counters) { c.Unavailable++ })
		if retryAfter > 0 {
			secs := (retryAfter + time.Second - 1) / time.Second
			w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
		}
		writeFault(w, http.StatusServiceUnavailable, "soap:Server", "Service indisponible, réessayez plus tard",
			serviceIndisponibleDetail{Message: "Service temporairement indisponible"})
		return
	}

	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "text/xml" {
		s.count(func(c *Counters) { c.Other++ })
		http.Error(w, "SOAP 1.1 requests are text/xml", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.count(func(c *Counters) { c.Other++ })
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		return // the connection failed: nobody reads the answer
	}

	// The body is read first: the server then notices a caller that gives up (the
	// request's context ends), and stops waiting.
	if d := s.faults.latency(); d > 0 {
		s.count(func(c *Counters) { c.Delayed++ })
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the caller gave up; nobody reads the answer
		}
	}

	var env requestEnvelope
	if err := xml.Unmarshal(body, &env); err != nil {
		s.clientFault(w, "Requête SOAP illisible")
		return
	}
	switch {
	case op == opUnknown:
		s.clientFault(w, "SOAPAction absente ou inconnue")
	case env.Body.Lister != nil && op == opListerMouvements:
		s.listerMouvements(w, env.Body.Lister)
	case env.Body.Consulter != nil && op == opConsulterFichePenale:
		s.consulterFichePenale(w, env.Body.Consulter)
	default:
		s.clientFault(w, "Le corps de la requête ne correspond pas à la SOAPAction")
	}
}

// clientFault answers a soap:Client fault without detail.
func (s *Server) clientFault(w http.ResponseWriter, message string) {
	s.count(func(c *Counters) { c.ClientFaults++ })
	writeFault(w, http.StatusInternalServerError, "soap:Client", message, nil)
}

// listerMouvements serves one page of the feed.
func (s *Server) listerMouvements(w http.ResponseWriter, req *listerRequest) {
	if req.DepuisSequence == nil || req.NombreMax == nil {
		s.clientFault(w, "depuisSequence et nombreMax sont obligatoires")
		return
	}
	depuis, err := strconv.ParseInt(strings.TrimSpace(*req.DepuisSequence), 10, 64)
	if err != nil {
		s.clientFault(w, "depuisSequence n'est pas un xs:long")
		return
	}
	nombreMax, err := strconv.ParseInt(strings.TrimSpace(*req.NombreMax), 10, 32)
	if err != nil {
		s.clientFault(w, "nombreMax n'est pas un xs:int")
		return
	}
	if nombreMax < 1 || nombreMax > 1000 {
		s.clientFault(w, "nombreMax doit être compris entre 1 et 1000")
		return
	}

	page, previous := s.state.page(depuis, int(nombreMax))
	if len(page) > 0 {
		if repeat, fromEarlier := s.faults.repeat(); repeat {
			if fromEarlier && previous != nil {
				page = append([]Mouvement{*previous}, page...)
			} else {
				i := s.faults.pick(len(page))
				page = slices.Insert(page, i+1, page[i])
			}
			if len(page) > int(nombreMax) {
				page = page[:nombreMax]
			}
			s.count(func(c *Counters) { c.Repeats++ })
		}
	}
	resp := listerMouvementsResponse{Mouvements: page, DernierSequence: depuis}
	if len(page) > 0 {
		resp.DernierSequence = page[len(page)-1].Sequence
	}
	writeEnvelope(w, http.StatusOK, resp)
}

// consulterFichePenale serves the current state of one fiche.
func (s *Server) consulterFichePenale(w http.ResponseWriter, req *consulterRequest) {
	if req.NumeroEcrou == nil || req.CodeEtablissement == nil {
		s.clientFault(w, "numeroEcrou et codeEtablissement sont obligatoires")
		return
	}
	k := ficheKey{strings.TrimSpace(*req.NumeroEcrou), strings.TrimSpace(*req.CodeEtablissement)}
	if s.faults.unknownFiche(k) {
		s.ficheInconnue(w, k)
		return
	}
	if s.faults.versionBump() {
		if _, err := s.state.BumpVersion(k.numeroEcrou, k.codeEtablissement); err == nil {
			s.count(func(c *Counters) { c.VersionBumps++ })
		}
	}
	f, ok := s.state.Fiche(k.numeroEcrou, k.codeEtablissement)
	if !ok {
		s.ficheInconnue(w, k)
		return
	}
	writeEnvelope(w, http.StatusOK, consulterFichePenaleResponse{FichePenale: f})
}

// ficheInconnue answers the FicheInconnue fault for k.
func (s *Server) ficheInconnue(w http.ResponseWriter, k ficheKey) {
	s.count(func(c *Counters) { c.FicheInconnue++ })
	writeFault(w, http.StatusInternalServerError, "soap:Client", "Fiche pénale inconnue",
		ficheInconnueDetail{NumeroEcrou: k.numeroEcrou, CodeEtablissement: k.codeEtablissement})
}

const (
	envelopeHead = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="` + soapEnvNS + `"><soap:Body>`
	envelopeTail = `</soap:Body></soap:Envelope>`
)

// soapFault is a SOAP 1.1 fault. Its name carries the `soap` prefix the envelope
// declares; faultcode, faultstring and detail are unqualified, as SOAP 1.1 defines them.
type soapFault struct {
	XMLName xml.Name    `xml:"soap:Fault"`
	Code    string      `xml:"faultcode"`
	String  string      `xml:"faultstring"`
	Detail  *soapDetail `xml:"detail,omitempty"`
}

type soapDetail struct {
	Content any
}

// writeFault answers a SOAP fault with status (500 for faults, per SOAP 1.1; 503 for
// the proxy's ServiceIndisponible).
func writeFault(w http.ResponseWriter, status int, code, message string, detail any) {
	f := soapFault{Code: code, String: message}
	if detail != nil {
		f.Detail = &soapDetail{Content: detail}
	}
	writeEnvelope(w, status, f)
}

// writeEnvelope answers payload wrapped in a SOAP 1.1 envelope.
func writeEnvelope(w http.ResponseWriter, status int, payload any) {
	var b bytes.Buffer
	b.WriteString(envelopeHead)
	if err := xml.NewEncoder(&b).Encode(payload); err != nil {
		// Only a defect of the simulator's own types gets here.
		http.Error(w, "simulator could not encode its answer", http.StatusInternalServerError)
		return
	}
	b.WriteString(envelopeTail)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
