package cli

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReorderArgs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"nothing", "", ""},
		{"already in order", "--db x redeem --customer c CODE", "--db x redeem --customer c CODE"},
		{"command flag after argument", "redeem CODE --customer c", "redeem --customer c CODE"},
		{"command flags on both sides", "redeem --order o CODE --customer c --amount 100", "redeem --order o --customer c --amount 100 CODE"},
		{"flag=value form", "redeem CODE --customer=c", "redeem --customer=c CODE"},
		{"single dash", "redeem CODE -customer c", "redeem -customer c CODE"},
		{"global flags after the command", "redeem CODE --db x --json", "--db x --json redeem CODE"},
		{"global flag=value after the command", "campaign list --db=x", "--db=x campaign list"},
		{"global and command flags mixed", "--json generate g --db x --count 5", "--json --db x generate --count 5 g"},
		{"subcommand", "campaign create c1 --percent 10 --name N", "campaign create --percent 10 --name N c1"},
		{"subcommand with globals after", "campaign create c1 --percent 10 --db x", "--db x campaign create --percent 10 c1"},
		{"boolean flag takes no value", "import g file.txt --skip-invalid", "import --skip-invalid g file.txt"},
		{"boolean flag before an argument", "import --skip-invalid g file.txt", "import --skip-invalid g file.txt"},
		{"boolean flag=false", "campaign create c --bound=false --percent 5", "campaign create --bound=false --percent 5 c"},
		{"value that looks like a flag", "events --after -1", "events --after -1"},
		{"stdin dash is an argument", "import g - --skip-invalid", "import --skip-invalid g -"},
		{"double dash ends flags", "redeem --customer c -- --odd", "redeem --customer c -- --odd"},
		{"double dash with plain arguments", "void CODE -- --reason", "void -- CODE --reason"},
		{"double dash, no arguments left", "campaign list --", "campaign list"},
		{"unknown flag stays with the command", "redeem CODE --bogus", "redeem --bogus CODE"},
		{"unknown flag before the command stays global", "--bogus redeem CODE", "--bogus redeem CODE"},
		{"argument named like a command", "campaign show list", "campaign show list"},
		{"unknown command: left as typed", "nosuch A --customer c", "nosuch A --customer c"},
		{"no command", "--db x --json", "--db x --json"},
		{"flag value missing at the end", "redeem CODE --order o --customer", "redeem --order o --customer"},
		{"global flag value missing at the end", "campaign list --json --db", "--json --db"},
		{"help flag drops the arguments", "redeem CODE --customer c --help", "redeem --help"},
		{"help flag before the command", "--help campaign create", "campaign create --help"},
		{"short help", "keys create k -h", "keys create --help"},
		{"help word", "help campaign create", "campaign create --help"},
		{"help word, unknown command", "help nosuch", "nosuch --help"},
		{"help word alone", "help", "--help"},
		{"help as an argument", "customer help", "customer help"},
		{"help word after a group", "campaign help", "campaign --help"},
	}
	app := (&env{}).newApp()
	app.Setup()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reorderArgs(app, append([]string{"promo"}, strings.Fields(tt.in)...))
			require.Equal(t, append([]string{"promo"}, strings.Fields(tt.want)...), got)
		})
	}
}

func TestJSONRequested(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"campaign list", false},
		{"--json campaign list", true},
		{"--db x --json campaign list", true},
		{"--db --json campaign list", false}, // --json is the file's name
		{"--json=false campaign list", false},
		{"--json=true campaign list", true},
		{"campaign list --json", false}, // not reordered: belongs to nobody
	}
	app := (&env{}).newApp()
	app.Setup()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, jsonRequested(app, append([]string{"promo"}, strings.Fields(tt.in)...)))
		})
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"redeem", "rollback", "validate", "campaign"}
	require.Equal(t, "redeem", suggest("redeme", names))
	require.Equal(t, "campaign", suggest("camp", names))
	require.Equal(t, "", suggest("xyzzy", names))
}

// Following the event log without a server opens the file only to read,
// so other commands (and promo serve) can use it meanwhile.
func TestRun_EventsFollowDirect_DoesNotHoldTheFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "promo.db")
	mustRun(t, "--db", db, "campaign", "create", "first", "--percent", "5")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"promo", "--db", db, "events", "--follow"}, strings.NewReader(""), &out, io.Discard)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "campaign.created") }, 5*time.Second, 20*time.Millisecond)
	mustRun(t, "--db", db, "campaign", "create", "second", "--percent", "5")
	require.Eventually(t, func() bool { return strings.Count(out.String(), "campaign.created") == 2 }, 5*time.Second, 20*time.Millisecond,
		"the follower sees the other command's event: %s", out.String())
	cancel()
	require.Equal(t, 0, <-done)
}
