package cassiopee

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/logging"
)

// The intake's paths.
const (
	// PathDecisions is where a clerk's workstation POSTs a decision.
	PathDecisions = "/cassiopee/v3/decisions"
	// PathReceipts prefixes a receipt's URL: PathReceipts + id.
	PathReceipts = "/cassiopee/v3/receipts/"
	// PathSchema serves the contract's JSON Schema.
	PathSchema = "/cassiopee/v3/decision.schema.json"
)

// CourtURIPrefix starts the URI subject alternative name that carries a court's code
// in its client certificate: urn:justice:juridiction:690123.
//
// Why a URI SAN rather than the subject's OU: a SAN is typed and meant to identify the
// holder, a CA can constrain it, and an OU is free text that public CAs have stopped
// certifying. A certificate must carry exactly one such URI; the code is six digits,
// like the contract's juridiction.code.
const CourtURIPrefix = "urn:justice:juridiction:"

// CourtURI returns the URI SAN of a court's client certificate.
func CourtURI(code string) *url.URL {
	u, _ := url.Parse(CourtURIPrefix + code)
	return u
}

// CourtOf returns the court code a client certificate carries, or "" when it carries
// none, several, or one that is not six digits.
func CourtOf(cert *x509.Certificate) string {
	code := ""
	for _, u := range cert.URIs {
		s := u.String()
		if !strings.HasPrefix(s, CourtURIPrefix) {
			continue
		}
		if code != "" {
			return ""
		}
		code = strings.TrimPrefix(s, CourtURIPrefix)
	}
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return ""
	}
	return code
}

// IntakeOptions configure an Intake built in Go (Spec builds them from Config).
type IntakeOptions struct {
	// Name is the connector instance (audit actor, logs). Default "cassiopee".
	Name string
	// Listen is the address to listen on ("127.0.0.1:0" picks a port: see Addr).
	// Default DefaultListen.
	Listen string
	// Certificate is the server's certificate and key. Required.
	Certificate tls.Certificate
	// ClientCAs sign the courts' certificates. Required.
	ClientCAs *x509.CertPool
	// MaxBodyBytes is the largest body read. Default and maximum MaxBodyBytes.
	MaxBodyBytes int64
	// Logger; default none. Never receives a value of a body.
	Logger *zap.Logger
	// Now is the clock (certificate validity, reception time). Default time.Now.
	Now func() time.Time
	// RefusalAuditInterval is how often the refusals counted rather than audited one by
	// one are written, one row per reference with its count (see refusalAudit): the
	// first refusal of a reference is audited at once, the next ones at most once per
	// interval. Default DefaultRefusalAuditInterval (1 minute).
	RefusalAuditInterval time.Duration
}

// Intake is the HTTPS intake of the clerks' decisions (see the package doc). Serve runs
// it; it is safe for concurrent use.
type Intake struct {
	o     IntakeOptions
	ready chan struct{}
	addr  string
	once  sync.Once
}

// NewIntake checks o and returns an intake that Serve starts.
func NewIntake(o IntakeOptions) (*Intake, error) {
	if o.Name == "" {
		o.Name = "cassiopee"
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.MaxBodyBytes <= 0 || o.MaxBodyBytes > MaxBodyBytes {
		o.MaxBodyBytes = MaxBodyBytes
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RefusalAuditInterval <= 0 {
		o.RefusalAuditInterval = DefaultRefusalAuditInterval
	}
	if len(o.Certificate.Certificate) == 0 {
		return nil, fmt.Errorf("%w: a server certificate is required", ErrIntakeOptions)
	}
	if o.ClientCAs == nil {
		return nil, fmt.Errorf("%w: the courts' certificate authority is required", ErrIntakeOptions)
	}
	return &Intake{o: o, ready: make(chan struct{})}, nil
}

// Addr waits until Serve listens and returns its address, or "" when ctx ends first.
func (in *Intake) Addr(ctx context.Context) string {
	select {
	case <-in.ready:
		return in.addr
	case <-ctx.Done():
		return ""
	}
}

// Serve listens and answers the clerks until ctx ends, then stops within 5 seconds
// (requests in progress finish) and writes the refusals it counted. It returns an
// error only when it cannot listen.
func (in *Intake) Serve(ctx context.Context, host connectors.Host) error {
	// The server's own errors (refused handshakes among them, audited as refusals) at
	// debug level: a flood of them must not flood the logs either.
	errorLog, err := zap.NewStdLogAt(in.o.Logger, zap.DebugLevel)
	if err != nil {
		return fmt.Errorf("cassiopee: error log: %w", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", in.o.Listen)
	if err != nil {
		return fmt.Errorf("cassiopee: listen %s: %w", in.o.Listen, err)
	}
	h := newHandler(in, host)
	// The counted refusals are written until the server has stopped, then once more.
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan struct{})
	go func() { defer close(flushed); h.refusals.run(flushCtx, in.o.RefusalAuditInterval) }()
	defer func() { stopFlush(); <-flushed }()
	tlsConfig := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{in.o.Certificate},
		// The certificate is required and verified in VerifyConnection rather than by
		// RequireAndVerifyClientCert, so that a refused handshake (no certificate, an
		// expired one, another authority's) is audited before it fails.
		ClientAuth:       tls.RequestClientCert,
		ClientCAs:        in.o.ClientCAs,
		VerifyConnection: func(cs tls.ConnectionState) error { return h.verifyPeer(ctx, cs) },
		NextProtos:       []string{"h2", "http/1.1"},
	}
	srv := &http.Server{
		Handler:           h.routes(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          errorLog,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	in.once.Do(func() { in.addr = ln.Addr().String(); close(in.ready) })
	in.o.Logger.Info("cassiopee intake listening", zap.String("addr", in.addr))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, tlsConfig)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("cassiopee: serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return nil
}

// handler answers the intake's requests.
type handler struct {
	in       *Intake
	host     connectors.Host
	log      *zap.Logger
	refusals *refusalAudit
}

func newHandler(in *Intake, host connectors.Host) *handler {
	h := &handler{in: in, host: host, log: in.o.Logger}
	h.refusals = newRefusalAudit(h.audit, in.o.Now)
	return h
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathDecisions, h.postDecision)
	mux.HandleFunc("GET "+PathReceipts+"{id}", h.getReceipt)
	mux.HandleFunc("GET "+PathSchema, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/schema+json")
		_, _ = w.Write(contractSchemaJSON)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, problemOf(http.StatusNotFound, "ressource-inconnue",
			"aucune ressource à cette adresse : POST "+PathDecisions+" ou GET "+PathReceipts+"{id}"))
	})
	return mux
}

// verifyPeer requires a client certificate signed by the courts' authority, valid now
// and for client authentication; a refusal is audited with a reason and the
// certificate's fingerprint, never its subject.
func (h *handler) verifyPeer(ctx context.Context, cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		h.refusals.note(ctx, refusal{kind: "tls:no-certificate", reference: "tls:no-certificate"})
		return ErrNoClientCertificate
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: h.in.o.ClientCAs, Intermediates: inter, CurrentTime: h.in.o.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err == nil {
		return nil
	}
	reason := "invalid"
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		reason = "expired"
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		reason = "not-for-client-authentication"
	case errors.As(err, &unknown):
		reason = "unknown-authority"
	}
	h.refusals.note(ctx, refusal{kind: "tls:" + reason, reference: "tls:" + reason + " certificate:" + fingerprint(leaf)})
	return fmt.Errorf("%w: %s", ErrBadClientCertificate, reason)
}

// fingerprint is the first 16 hex digits of a certificate's SHA-256.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:8])
}

// audit records a refusal (h.refusals decides when); a failure to audit is logged (the
// refusal stands).
func (h *handler) audit(ctx context.Context, reference string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.host.Audit(actx, connectors.AuditEntry{Action: "refuse", Outcome: "refused", Reference: reference}); err != nil {
		h.log.Warn("cassiopee: refusal not audited", zap.Error(err))
	}
}

// caller returns the court of the request's verified client certificate, or answers
// 403 (audited) and returns "".
func (h *handler) caller(w http.ResponseWriter, r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		writeProblem(w, problemOf(http.StatusUnauthorized, "certificat-requis", "un certificat client de juridiction est requis"))
		return ""
	}
	code := CourtOf(r.TLS.PeerCertificates[0])
	if code == "" {
		h.refusals.note(r.Context(), refusal{kind: "tls:no-court-code",
			reference: "tls:no-court-code certificate:" + fingerprint(r.TLS.PeerCertificates[0])})
		writeProblem(w, problemOf(http.StatusForbidden, "certificat-sans-juridiction",
			"le certificat client ne porte pas de code juridiction ("+CourtURIPrefix+"NNNNNN)"))
		return ""
	}
	return code
}

func (h *handler) postDecision(w http.ResponseWriter, r *http.Request) {
	court := h.caller(w, r)
	if court == "" {
		return
	}
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" ||
		(params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		writeProblem(w, problemOf(http.StatusUnsupportedMediaType, "type-de-contenu",
			"le corps doit être envoyé en application/json; charset=utf-8"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.in.o.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeProblem(w, problemOf(http.StatusRequestEntityTooLarge, "corps-trop-volumineux",
			fmt.Sprintf("le corps dépasse la taille maximale admise (%d octets)", h.in.o.MaxBodyBytes)))
		return
	case err != nil:
		writeProblem(w, problemOf(http.StatusBadRequest, "corps-illisible", "le corps de la requête n'a pas pu être lu"))
		return
	}
	d, problems, err := Decode(body)
	switch {
	case len(problems) > 0:
		h.refusals.note(r.Context(), refusal{kind: "rules", court: court, reference: "court:" + court + " " + redactedRules(problems)})
		p := problemOf(http.StatusUnprocessableEntity, "decision-invalide",
			fmt.Sprintf("la décision n'est pas conforme au format d'export v3 : %d erreur(s)", len(problems)))
		p.Errors = problems
		writeProblem(w, p)
		return
	case err != nil:
		h.log.Error("cassiopee: decode", zap.Error(err))
		writeProblem(w, problemOf(http.StatusInternalServerError, "erreur-interne", "erreur interne du concentrateur"))
		return
	}
	if d.Juridiction.Code != court {
		h.refusals.note(r.Context(), refusal{kind: "court-mismatch", court: court,
			reference: "court:" + court + " payload-court:" + d.Juridiction.Code + " court-mismatch"})
		writeProblem(w, problemOf(http.StatusForbidden, "juridiction-non-autorisee",
			"le certificat de la juridiction "+court+" ne permet pas de transmettre une décision de la juridiction "+d.Juridiction.Code))
		return
	}
	pushed, err := h.host.Accept(r.Context(), PushOf(court, body, d, h.in.o.Now()))
	if err != nil && pushed.ReceiptID == "" {
		h.log.Error("cassiopee: decision not accepted", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		writeProblem(w, problemOf(http.StatusServiceUnavailable, "indisponible",
			"la décision n'a pas pu être enregistrée ; rien n'a été accepté : renvoyez-la"))
		return
	}
	status := http.StatusAccepted
	if pushed.Replay {
		status = http.StatusOK
	}
	rec := pushed.Receipt
	if err != nil { // committed, but not read back
		rec = connectors.PushReceipt{ID: pushed.ReceiptID, Caller: court}
	}
	h.log.Debug("cassiopee: decision received", zap.String("receipt_id", pushed.ReceiptID), logging.Count(len(rec.Messages)),
		zap.Bool("replay", pushed.Replay))
	w.Header().Set("Location", PathReceipts+pushed.ReceiptID)
	writeJSON(w, status, ReceiptOf(rec))
}

// PushOf is the push of a decoded decision: one fact whose messages are the
// prévenus' judgments (a decision that cannot be mapped is a fact with its error, to
// be quarantined), with the body as raw input.
func PushOf(court string, body []byte, d *Decision, at time.Time) connectors.Push {
	f := connectors.Fact{Raw: body, ContentType: "application/json"}
	msgs, err := ToJudgments(d, at)
	if err != nil {
		f.Err, f.Stage = err, "map"
	} else {
		f.Messages = msgs
		if len(msgs) == 1 {
			f.Fact = &canonical.FactID{System: msgs[0].FactSystem, Ref: msgs[0].FactRef, Version: msgs[0].FactVersion}
		}
	}
	return connectors.Push{Caller: court, Facts: []connectors.Fact{f},
		Reference: "parquet:" + d.Jugement.NumeroParquet + " transmission:" + strconv.FormatInt(d.NumeroTransmission, 10)}
}

func (h *handler) getReceipt(w http.ResponseWriter, r *http.Request) {
	court := h.caller(w, r)
	if court == "" {
		return
	}
	rec, err := h.host.Receipt(r.Context(), court, r.PathValue("id"))
	switch {
	case errors.Is(err, connectors.ErrNoReceipt):
		writeProblem(w, problemOf(http.StatusNotFound, "recu-inconnu", "aucun reçu de cette juridiction sous cet identifiant"))
		return
	case err != nil:
		h.log.Error("cassiopee: receipt", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		writeProblem(w, problemOf(http.StatusServiceUnavailable, "indisponible", "le reçu ne peut pas être lu pour l'instant"))
		return
	}
	writeJSON(w, http.StatusOK, ReceiptOf(rec))
}

// redactedRules lists problems as pointers and rules, at most 20, for the audit.
func redactedRules(ps []Problem) string {
	var b strings.Builder
	b.WriteString("rules:")
	for i, p := range ps {
		if i == 20 {
			fmt.Fprintf(&b, " (+%d)", len(ps)-i)
			break
		}
		if i > 0 {
			b.WriteString(";")
		}
		b.WriteString(" " + p.Redacted())
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, problemOf(http.StatusInternalServerError, "erreur-interne", "erreur interne du concentrateur"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
