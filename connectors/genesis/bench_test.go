package genesis

import (
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/genesis/fichepenale"
)

// BenchmarkConsulterFichePenale reads one fiche from the simulator over loopback HTTP
// with a keep-alive connection: request encoding, HTTP, the simulator's work,
// decoding and checks.
func BenchmarkConsulterFichePenale(b *testing.B) {
	srv, ts := startSim(b)
	f, _ := richFiche(b, srv, false)
	c := newClient(b, ts.URL, nil)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ConsulterFichePenale(ctx, f.NumeroEcrou, f.CodeEtablissement); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFiche decodes one fiche's SOAP response (about 2.5 KiB): "full" is
// what the client does (soap's envelope into the generated types, then the textual
// re-reading of dates and required numbers, then the conversion); "generated" is
// soap's envelope decoding alone, to show what the workaround costs.
func BenchmarkDecodeFiche(b *testing.B) {
	srv, _ := startSim(b)
	_, raw := richFiche(b, srv, false)
	b.Run("full", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeFichePenale(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generated", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			resp := new(fichepenale.ConsulterFichePenaleResponse)
			if err := decodeEnvelope("ConsulterFichePenale", raw, resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lexical", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			var lex ficheLexical
			require.NoError(b, xml.Unmarshal(raw, &lex))
		}
	})
}
