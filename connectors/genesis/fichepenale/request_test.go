package fichepenale

import (
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestsCarryRequiredElementsEvenWhenZero(t *testing.T) {
	tests := []struct {
		name string
		req  any
		want string
	}{
		{
			name: "the first poll sends depuisSequence 0",
			req:  &ListerMouvements{DepuisSequence: 0, NombreMax: 100},
			want: `<ListerMouvements xmlns="urn:justice:genesis:fichepenale:v1"><depuisSequence>0</depuisSequence><nombreMax>100</nombreMax></ListerMouvements>`,
		},
		{
			name: "a zero nombreMax is sent for the server to refuse, not dropped",
			req:  ListerMouvements{DepuisSequence: 42},
			want: `<ListerMouvements xmlns="urn:justice:genesis:fichepenale:v1"><depuisSequence>42</depuisSequence><nombreMax>0</nombreMax></ListerMouvements>`,
		},
		{
			name: "the fiche key is sent with both elements",
			req:  &ConsulterFichePenale{NumeroEcrou: "123456", CodeEtablissement: "FR0690"},
			want: `<ConsulterFichePenale xmlns="urn:justice:genesis:fichepenale:v1"><numeroEcrou>123456</numeroEcrou><codeEtablissement>FR0690</codeEtablissement></ConsulterFichePenale>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := xml.Marshal(tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(out))
		})
	}
}

func TestTheGeneratedTagsAloneWouldDropDepuisSequenceZero(t *testing.T) {
	// The reason request.go exists: the generated struct, marshalled field by field
	// without its MarshalXML, omits the required element.
	type generated ListerMouvements // same fields and tags, no methods
	out, err := xml.Marshal(generated{DepuisSequence: 0, NombreMax: 10})
	require.NoError(t, err)
	assert.NotContains(t, string(out), "depuisSequence")
}
