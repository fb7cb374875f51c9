package genesis

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/connectortest"
)

// npmSoapDir is the node-soap server of TestANonGoSOAPStackServesGenesisToTheSource.
var npmSoapDir = filepath.Join("testdata", "npm-soap")

// npmSoapInstall is the command that installs it (the test runs it when needed).
const npmSoapInstall = "npm ci --prefix connectors/genesis/testdata/npm-soap --no-audit --no-fund --loglevel=error"

// lockedVersion returns the version of package name that dir's package-lock.json pins.
func lockedVersion(t *testing.T, dir, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	require.NoError(t, err)
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	require.NoError(t, json.Unmarshal(raw, &lock))
	v := lock.Packages["node_modules/"+name].Version
	require.NotEmpty(t, v, "package-lock.json pins no %s", name)
	return v
}

// installedVersion returns the version of package name installed in dir, "" if none.
func installedVersion(dir, name string) string {
	raw, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(raw, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

// ensureNpmSoap installs the locked node-soap into testdata/npm-soap when it is not
// there (the npm registry is reachable from the machines that run the tests); it
// fails, saying how to install, when node or npm is missing.
func ensureNpmSoap(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed, and this test serves GENESIS with node-soap: apt-get install -y nodejs npm, then %s", npmSoapInstall)
	}
	want := lockedVersion(t, npmSoapDir, "soap")
	if installedVersion(npmSoapDir, "soap") == want {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is not installed: apt-get install -y npm, then %s", npmSoapInstall)
	}
	cmd := exec.CommandContext(t.Context(), npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = npmSoapDir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "npm ci failed (run %s): %s", npmSoapInstall, out)
	require.Equal(t, want, installedVersion(npmSoapDir, "soap"), "npm ci did not install the locked node-soap")
	return node
}

// startNpmSoap runs `node server.js 0` and returns the service URL. The server stops
// when its standard input closes (at the end of the test), or is killed.
func startNpmSoap(t *testing.T) string {
	t.Helper()
	node := ensureNpmSoap(t)
	cmd := exec.Command(node, "server.js", "0")
	cmd.Dir = npmSoapDir
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	first := &firstLine{line: make(chan string, 1)}
	cmd.Stdout = first
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the server exits when its input ends
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	lines := first.line
	select {
	case line := <-lines:
		port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
		require.True(t, ok, "node-soap did not start: its first line is %q", line)
		_, err := strconv.Atoi(port)
		require.NoError(t, err)
		return "http://127.0.0.1:" + port + "/genesis/ws/fichepenale"
	case <-exited:
		t.Fatalf("node-soap exited: %v: %s", waitErr, stderr.String())
	case <-time.After(connectortest.Liveness):
		t.Fatalf("node-soap did not start within %s", connectortest.Liveness)
	}
	return ""
}

// firstLine is a process's standard output: it hands over the first line and
// discards the rest.
type firstLine struct {
	buf  []byte
	sent bool
	line chan string
}

// Write collects bytes up to the first newline.
func (w *firstLine) Write(p []byte) (int, error) {
	if !w.sent {
		w.buf = append(w.buf, p...)
		if i := strings.IndexByte(string(w.buf), '\n'); i >= 0 {
			w.sent = true
			w.line <- string(w.buf[:i])
		}
	}
	return len(p), nil
}

// A SOAP stack that is not ours — node-soap, serving the WSDL from its own reading of
// it, with its own namespace prefixes, chunked responses and fault writer — must be
// read by the source unchanged.
func TestANonGoSOAPStackServesGenesisToTheSource(t *testing.T) {
	url := startNpmSoap(t)
	inst, ps := Spec.New(connectors.Env{}, map[string]any{
		"url": url, "pageSize": 2, "retryWaitMin": "1ms", "retryWaitMax": "5ms", "timeout": "10s",
	}, "connectors.genesis")
	require.Empty(t, ps)
	t.Cleanup(func() { _ = inst.Close() })

	reads, err := connectortest.ReadToEnd(t.Context(), inst.Source, "", 20)
	require.NoError(t, err)
	facts := connectortest.Facts(reads)
	assert.Equal(t, []string{
		"penal-record.v1 fiche/24-0412/0750101 3", "custody-event.v1 mouvement/101 101", "custody-event.v1 mouvement/102 102",
		"penal-record.v1 fiche/24-0412/0750101 3", "custody-event.v1 mouvement/103 103",
		"penal-record.v1 fiche/24-0977/0620101 1", "custody-event.v1 mouvement/104 104",
		"failed map mouvement/105",
	}, kinds(facts))
	assert.Equal(t, "105", reads[len(reads)-1].Batch.Next)
	require.NoError(t, connectortest.CheckFacts(registry(t), facts, []string{"TESTARD", "Canari", "1988-06-17", "NODEVILLE"}))
	require.NoError(t, connectortest.CheckResume(t.Context(), inst.Source, reads, 20, 10))

	t.Run("the fiche is mapped field by field", func(t *testing.T) {
		var p canonical.PenalRecord
		require.NoError(t, facts[0].Messages[0].DecodeData(&p))
		assert.Equal(t, "MA PARIS-LA SANTE", p.EstablishmentName)
		assert.Equal(t, []string{"Canari", "Jean", "Noel"}, p.Person.FirstNames)
		assert.Equal(t, "TESTARD-NPM", p.Person.UsageName)
		assert.Equal(t, []string{"23098765432"}, p.Person.Identifiers.ProsecutionNumbers)
		assert.Equal(t, "RECEL DE BIEN PROVENANT D'UN VOL", p.Convictions[0].Offences[1].Label, "an entity decoded")
		assert.Empty(t, p.Convictions[0].Offences[1].OffenceDate)
		assert.Equal(t, &canonical.Duration{Months: 6}, p.Convictions[0].Sentences[0].SuspendedDuration)
		assert.Equal(t, 50, p.NetReductionDays())
		assert.Equal(t, canonical.Date("2024-09-03"), p.ReleaseDate)
	})
	t.Run("the transfer names the destination écrou", func(t *testing.T) {
		var e canonical.CustodyEvent
		require.NoError(t, facts[4].Messages[0].DecodeData(&e))
		assert.Equal(t, canonical.CustodyEventTransfert, e.Kind)
		assert.Equal(t, "24-0977", e.DestinationCommittalNumber)
		assert.Equal(t, "0620101", e.DestinationEstablishmentCode)
		assert.Equal(t, "2024-09-03T07:55:00+02:00", e.OccurredAt.Format(time.RFC3339))
	})
	t.Run("node-soap's FicheInconnue fault quarantines the movement", func(t *testing.T) {
		assert.True(t, errors.Is(facts[7].Err, ErrFicheInconnue))
		assert.Equal(t, "map", facts[7].Stage)
	})
	t.Run("node-soap's responses replay", func(t *testing.T) {
		require.NoError(t, connectortest.CheckDecoder(t.Context(), inst.Decoder, facts, nil))
	})
}
