//go:build unix

package main

// README's quickstart, run as a new user pastes it: the block is read from
// README.md itself, so the README cannot drift from what works.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// quickstartBlock is the ```sh block that follows README's quickstart
// marker.
func quickstartBlock(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text := string(readme)
	const marker = "<!-- quickstart: TestReadme_QuickstartPastesAsItIs runs the next block -->\n```sh\n"
	i := strings.Index(text, marker)
	require.GreaterOrEqual(t, i, 0, "README.md has the quickstart marker followed by a ```sh block")
	body := text[i+len(marker):]
	j := strings.Index(body, "\n```\n")
	require.Greater(t, j, 0, "the quickstart block ends")
	return body[:j+1]
}

// The quickstart's block runs as written, in a directory laid out as after
// `make run` (bin/promo, promo.db served by promo serve), with bash and
// errexit: the one change is the server's address (a free port rather
// than 8080, which another program may hold). Each step does what README
// says it prints.
func TestReadme_QuickstartPastesAsItIs(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("README's quickstart uses %s, which is not installed here", tool)
		}
	}
	block := quickstartBlock(t)
	require.Contains(t, block, "localhost:8080", "the block talks to make run's server")
	e := newEnv(t)
	srv := e.start()
	require.NoError(t, os.MkdirAll(filepath.Join(e.dir, "bin"), 0o755))
	require.NoError(t, os.Symlink(promoBin, filepath.Join(e.dir, "bin", "promo")))

	script := strings.ReplaceAll(block, "localhost:8080", strings.TrimPrefix(srv.url, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-u", "-o", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = e.dir, promoEnviron()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the quickstart fails as pasted:\n%s", out)
	got := string(out)

	require.Contains(t, got, "created campaign welcome-2026")
	require.Contains(t, got, "generated 10000 codes for campaign welcome-2026 (batch b1)")
	m := regexp.MustCompile(`till key (pk_[A-Z0-9]+); admin key (pk_[A-Z0-9]+) for http://\S+/admin; cust-42's code ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\n`).FindStringSubmatch(got)
	require.NotNil(t, m, "the variables were filled from the --json output:\n%s", got)
	code := m[3]
	require.Contains(t, got, `{"valid":true,"code":"`+code+`","campaign":"welcome-2026"`)
	require.Contains(t, got, `"discount":500`)
	require.Regexp(t, `\{"id":"rd_1","code":"`+code+`",[^\n]*"terminal":"till-1"`, got)
	require.Contains(t, got, "{\"error\":{\"code\":\"already_redeemed\"")
	require.Contains(t, got, "}}\n409\n")
	require.Regexp(t, `promo: this code was already redeemed \(last on [^)]+ at till-1\)\nrefused, exit 1\n`, got)

	// The keys it made are real: the admin key opens the dashboard's data.
	require.Equal(t, 200, srv.do(t, "GET", "/v1/keys", m[2], nil).status)
}
