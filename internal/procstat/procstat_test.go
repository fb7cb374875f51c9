package procstat

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPeakRSSGrowsWithWhatTheProcessTouched(t *testing.T) {
	before, err := PeakRSS(0)
	require.NoError(t, err)
	require.Positive(t, before)
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = 1
	}
	after, err := PeakRSS(os.Getpid())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after, before+32<<20, "64 MiB touched")
	_ = buf[len(buf)-1]
}

func TestPeakRSSOfNoProcess(t *testing.T) {
	_, err := PeakRSS(1 << 30)
	assert.Error(t, err)
}
