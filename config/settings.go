package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeSettings decodes a connector's raw settings into out (a pointer to the
// connector's Config struct), refusing unknown keys. Problems are reported under path
// (`connectors.genesis`).
func DecodeSettings(settings map[string]any, out any, path string) Problems {
	var ps Problems
	raw, err := yaml.Marshal(settings)
	if err != nil {
		ps.Add(path, "cannot re-encode settings: %v", err)
		return ps
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && err.Error() != "EOF" {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
		for _, line := range strings.Split(msg, "\n") {
			line = strings.TrimSpace(line)
			// yaml.v3 line numbers refer to the re-encoded settings, not the file:
			// drop them and keep the sentence.
			if i := strings.Index(line, ": "); strings.HasPrefix(line, "line ") && i > 0 {
				line = line[i+2:]
			}
			if line != "" {
				ps.Add(path, "%s", line)
			}
		}
	}
	return ps
}

// Secret names where a secret is read from: an environment variable or a file (for
// example a mounted Kubernetes secret). The value itself never sits in the
// configuration.
type Secret struct {
	// Env is the environment variable that holds the secret.
	Env string `yaml:"env"`
	// File is a file whose content (trailing newline removed) is the secret.
	File string `yaml:"file"`
}

// IsZero reports whether no source is named.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" }

// Check reports a problem at path when the secret is not resolvable.
func (s Secret) Check(path string, getenv func(string) string, ps *Problems) {
	switch {
	case s.IsZero():
		ps.Add(path, "required: name an environment variable (env) or a file (file)")
	case s.Env != "" && s.File != "":
		ps.Add(path, "name env or file, not both")
	default:
		if _, err := s.Resolve(getenv); err != nil {
			ps.Add(path, "%v", err)
		}
	}
}

// Resolve reads the secret.
func (s Secret) Resolve(getenv func(string) string) (string, error) {
	if s.Env != "" {
		v := getenv(s.Env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or unset", s.Env)
		}
		return v, nil
	}
	if s.File != "" {
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	}
	return "", fmt.Errorf("no secret source named")
}
