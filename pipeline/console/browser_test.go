package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumPath returns Debian's Chromium, installing it (scripts/ensure-tools.sh) when
// it is missing: the test never skips for want of a browser.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "ensure-tools.sh")
	out, err := exec.CommandContext(t.Context(), script).CombinedOutput()
	require.NoError(t, err, "%s: %s", script, out)
	p, err := exec.LookPath("chromium")
	require.NoError(t, err, "chromium is still missing after %s", script)
	return p
}

// artefacts is where the screenshots go: PASSERELLE_ARTEFACTS, else a folder in the
// system's temporary directory (outside the repository), kept after the test.
func artefacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PASSERELLE_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "passerelle-artefacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o750))
	return dir
}

func TestBrowserFindsAPersonAndReplaysAQuarantinedFact(t *testing.T) {
	r := startRig(t)
	chromium := chromiumPath(t)

	// The flags this machine needs (headless, as root, on a closed network), and a fresh
	// profile.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	// The browser lives as long as ctx; each step has a timeout of its own.
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, done := context.WithTimeout(ctx, 30*time.Second)
		defer done()
		require.NoError(t, chromedp.Do(sctx, steps...), what)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(s)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		require.NoError(t, err, sel)
		return n
	}
	dir := artefacts(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, png, 0o600))
		t.Logf("screenshot: %s", path)
	}

	// Sign in.
	// The first call starts the browser, for as long as its context: ctx itself.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(r.base)), "start the browser and open the console")
	do("see the sign-in form", chromedp.WaitVisible(chromedp.ID("name")))
	do("sign in",
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("routes")))
	assert.Contains(t, text("#account"), "alice")
	assert.Equal(t, "5", text(`#routes tr[data-route="measures-to-archive"] [data-field="delivered"]`))
	shot("console-routes.png")

	// The routes page follows the hub without a reload (its script polls the API).
	_, err := r.run.Controls.Set(t.Context(), "route", "measures-to-archive", true, "live test", "operator:test")
	require.NoError(t, err)
	stateCell := `#routes tr[data-route="measures-to-archive"] [data-field="state"]`
	live := time.Now().Add(15 * time.Second)
	for text(stateCell) != "paused" {
		require.False(t, time.Now().After(live), "the routes page did not show the pause by itself")
		time.Sleep(200 * time.Millisecond)
	}
	_, err = r.run.Controls.Set(t.Context(), "route", "measures-to-archive", false, "", "operator:test")
	require.NoError(t, err)

	// A fact of the person is refused by the destination.
	item := r.quarantineOne()

	// Find the person by numéro d'écrou and see the journal.
	do("open the journal", chromedp.Click(chromedp.CSS(`nav a[href="/console/journal"]`)), chromedp.WaitVisible(chromedp.ID("q")))
	do("search by numéro d'écrou",
		chromedp.SetValue(chromedp.ID("kind"), "ecrou"),
		chromedp.SendKeys(chromedp.ID("q"), ecrou),
		chromedp.Click(chromedp.ID("find")),
		chromedp.WaitVisible(chromedp.ID("timeline")))
	assert.Equal(t, "BENALI Yasmina", text("#person"))
	assert.Equal(t, 1, count("#timeline .entry.quarantined"), "the refused version, in red")
	assert.Equal(t, 3, count("#timeline .entry.delivered"))
	assert.Equal(t, 3, count("#measures .measure"), "past, current and upcoming")
	shot("console-journal-quarantined.png")

	// Replay it from the journal and see it delivered.
	do("replay", chromedp.Click(chromedp.CSS(`#timeline .entry.quarantined button.replay`)), chromedp.WaitVisible(chromedp.ID("flash")))
	assert.Contains(t, text("#flash"), "redelivering")
	deadline := time.Now().Add(time.Minute)
	for {
		do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("timeline")))
		if count("#timeline .entry.quarantined, #timeline .entry.pending") == 0 && count("#timeline .entry.delivered") == 4 {
			break
		}
		require.False(t, time.Now().After(deadline), "the replayed fact was not delivered within a minute")
		time.Sleep(200 * time.Millisecond)
	}
	shot("console-journal-delivered.png")
	assert.Len(t, r.dest.Applied(), 6, "delivered once")

	q, err := r.run.Store.QuarantineByID(t.Context(), item.ID)
	require.NoError(t, err)
	assert.Equal(t, "replayed", q.Status)
}
