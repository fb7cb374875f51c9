package cassiopee

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"passerelle/config"
	"passerelle/connectors"
)

// DefaultListen is the intake's address when the settings name none.
const DefaultListen = "127.0.0.1:8443"

// Config is the Cassiopée intake's settings (connectors.<name> in the configuration).
type Config struct {
	// Listen is the address of the HTTPS intake. Default DefaultListen (loopback:
	// production names its interface, e.g. ":8443").
	Listen string `yaml:"listen"`
	// CertFile and KeyFile are the intake's server certificate and private key (PEM).
	// Required.
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// ClientCAFile holds the certificate authorities (PEM) that sign the courts'
	// client certificates; no other certificate is accepted. Required.
	ClientCAFile string `yaml:"clientCAFile"`
	// MaxBodyBytes is the largest body accepted (413 above). Default and maximum
	// MaxBodyBytes (1 MiB).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
}

// Spec registers the Cassiopée intake.
var Spec = connectors.Spec{
	Kind: "cassiopee",
	Summary: "push source: Cassiopée court clerks' décisions over HTTPS with court client certificates " +
		"(POST /cassiopee/v3/decisions), receipts (GET /cassiopee/v3/receipts/{id})",
	New: newInstance,
}

// newInstance validates the settings and loads the certificate files, reporting every
// problem under path. It opens no socket: the hub starts the intake (Serve).
func newInstance(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
	var c Config
	ps := config.DecodeSettings(settings, &c, path)
	if len(ps) > 0 {
		return nil, ps
	}
	o, ps := c.options(path)
	if len(ps) > 0 {
		return nil, ps
	}
	o.Name, o.Logger = env.Name, env.Logger
	in, err := NewIntake(o)
	if err != nil {
		ps.Add(path, "%v", err)
		return nil, ps
	}
	return &connectors.Instance{Serve: in.Serve, Decoder: Decoder{}}, nil
}

// options checks c and loads its files.
func (c Config) options(path string) (IntakeOptions, config.Problems) {
	var ps config.Problems
	o := IntakeOptions{Listen: c.Listen, MaxBodyBytes: c.MaxBodyBytes}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		ps.Add(path+".listen", "must be host:port, not %q", o.Listen)
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxBodyBytes {
		ps.Add(path+".maxBodyBytes", "must be between 1 and %d", MaxBodyBytes)
	}
	if c.CertFile == "" {
		ps.Add(path+".certFile", "required: the intake's server certificate (PEM)")
	}
	if c.KeyFile == "" {
		ps.Add(path+".keyFile", "required: the private key of certFile (PEM)")
	}
	if c.CertFile != "" && c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			ps.Add(path+".certFile", "cannot load the certificate and its key: %v", err)
		} else {
			o.Certificate = cert
		}
	}
	if c.ClientCAFile == "" {
		ps.Add(path+".clientCAFile", "required: the authority that signs the courts' client certificates (PEM)")
	} else {
		pool, err := LoadCertPool(c.ClientCAFile)
		if err != nil {
			ps.Add(path+".clientCAFile", "%v", err)
		} else {
			o.ClientCAs = pool
		}
	}
	return o, ps
}

// LoadCertPool reads the PEM certificates of file into a pool.
func LoadCertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
