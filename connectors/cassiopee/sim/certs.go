package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"passerelle/connectors/cassiopee"
)

// Court is a court (juridiction) of the simulator: its code and label.
type Court struct {
	// Code is the six-digit code juridiction.
	Code string
	// Libelle is its label, e.g. TJ LYON.
	Libelle string
}

// Courts are the courts the simulator knows (illustrative codes, like the contract's
// examples).
var Courts = []Court{
	{"690123", "TJ LYON"},
	{"750010", "TJ PARIS"},
	{"130055", "TJ MARSEILLE"},
	{"590350", "TJ LILLE"},
}

// CertSet is where GenerateCerts wrote the PKI of a demo or a test: a private CA, the
// intake's server certificate, and one client certificate per court, plus an expired
// one and one signed by another authority, for the refusal tests.
type CertSet struct {
	// Dir is the folder.
	Dir string
	// CAFile is the CA certificate (PEM): the intake's clientCAFile, and the clerks'
	// trust anchor for the server.
	CAFile string
	// ServerCert and ServerKey are the intake's certFile and keyFile (for 127.0.0.1,
	// ::1 and localhost).
	ServerCert, ServerKey string
	// Courts maps a court code to its client certificate and key files.
	Courts map[string]KeyPair
	// Expired is a client certificate of the first court whose validity ended.
	Expired KeyPair
	// Rogue is a client certificate of the first court signed by another CA.
	Rogue KeyPair
	// NoCourt is a client certificate of the CA that carries no court code.
	NoCourt KeyPair
}

// KeyPair names a certificate file and its key file (PEM).
type KeyPair struct {
	Cert, Key string
}

// Load reads the pair for a TLS client or server.
func (k KeyPair) Load() (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(k.Cert, k.Key)
	if err != nil {
		return c, fmt.Errorf("cassiopee sim: load %s: %w", k.Cert, err)
	}
	return c, nil
}

// GenerateCerts writes into dir (created, 0700) a private CA valid ten years, a server
// certificate for the intake on loopback, and a client certificate per court carrying
// its code as the URI SAN cassiopee.CourtURIPrefix + code (see cassiopee.CourtOf);
// keys are ECDSA P-256, files 0600. Files already there are replaced: the demo
// regenerates its folder (.demo/, git-ignored) at every start.
func GenerateCerts(dir string, courts []Court) (*CertSet, error) {
	if len(courts) == 0 {
		return nil, ErrNoCourts
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cassiopee sim: %w", err)
	}
	now := time.Now()
	ca, caKey, err := newCA("Passerelle démo — AC des juridictions", now)
	if err != nil {
		return nil, err
	}
	set := &CertSet{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), Courts: map[string]KeyPair{}}
	if err := writePEM(set.CAFile, "CERTIFICATE", ca.Raw); err != nil {
		return nil, err
	}
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "passerelle-intake"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:   now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	kp, err := issue(dir, "server", server, ca, caKey)
	if err != nil {
		return nil, err
	}
	set.ServerCert, set.ServerKey = kp.Cert, kp.Key
	for _, c := range courts {
		kp, err := issue(dir, "court-"+c.Code, courtTemplate(c, now.Add(-time.Hour), now.AddDate(1, 0, 0)), ca, caKey)
		if err != nil {
			return nil, err
		}
		set.Courts[c.Code] = kp
	}
	first := courts[0]
	if set.Expired, err = issue(dir, "expired-"+first.Code, courtTemplate(first, now.AddDate(-1, 0, 0), now.Add(-24*time.Hour)), ca, caKey); err != nil {
		return nil, err
	}
	rogueCA, rogueKey, err := newCA("Autorité inconnue", now)
	if err != nil {
		return nil, err
	}
	if set.Rogue, err = issue(dir, "rogue-"+first.Code, courtTemplate(first, now.Add(-time.Hour), now.AddDate(1, 0, 0)), rogueCA, rogueKey); err != nil {
		return nil, err
	}
	noCourt := courtTemplate(first, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	noCourt.URIs = nil
	if set.NoCourt, err = issue(dir, "no-court", noCourt, ca, caKey); err != nil {
		return nil, err
	}
	return set, nil
}

func courtTemplate(c Court, from, to time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: c.Libelle, OrganizationalUnit: []string{"greffe"}, Organization: []string{"Ministère de la Justice"}},
		URIs:        []*url.URL{cassiopee.CourtURI(c.Code)},
		NotBefore:   from,
		NotAfter:    to,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

func newCA(name string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("cassiopee sim: CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("cassiopee sim: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("cassiopee sim: CA: %w", err)
	}
	return ca, key, nil
}

// issue signs tmpl with the CA and writes name.pem and name-key.pem.
func issue(dir, name string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("cassiopee sim: key: %w", err)
	}
	tmpl.SerialNumber = serial()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return KeyPair{}, fmt.Errorf("cassiopee sim: certificate %s: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("cassiopee sim: key %s: %w", name, err)
	}
	kp := KeyPair{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
	if err := writePEM(kp.Cert, "CERTIFICATE", der); err != nil {
		return kp, err
	}
	return kp, writePEM(kp.Key, "PRIVATE KEY", keyDER)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n.Add(n, big.NewInt(1))
}

func writePEM(file, typ string, der []byte) error {
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("cassiopee sim: write %s: %w", file, err)
	}
	return nil
}

// ServerKeyPair is the intake's certificate and key.
func (c *CertSet) ServerKeyPair() KeyPair { return KeyPair{Cert: c.ServerCert, Key: c.ServerKey} }
