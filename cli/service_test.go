package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The unit systemd would load passes systemd-analyze verify (where it is
// installed), and keeps the hardening README promises.
func TestServiceUnit_Verifies(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		spec func() (unitSpec, error)
		want []string
	}{
		{"SelfSigned", func() (unitSpec, error) {
			return unitSpecOf(self, "/var/lib/promo/promo.db", ":8443", true, "", "", 14)
		}, []string{"--tls-self-signed", "CapabilityBoundingSet=\n", "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=promo", "Restart=on-failure", "KillSignal=SIGTERM"}},
		{"LowPort", func() (unitSpec, error) {
			return unitSpecOf(self, "/var/lib/promo/promo.db", ":443", false, "/etc/promo/cert.pem", "/etc/promo/key.pem", 14)
		}, []string{"--tls-cert /etc/promo/cert.pem --tls-key /etc/promo/key.pem", "AmbientCapabilities=CAP_NET_BIND_SERVICE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := tc.spec()
			require.NoError(t, err)
			var b bytes.Buffer
			require.NoError(t, serviceTemplate.Execute(&b, spec))
			for _, w := range tc.want {
				require.Contains(t, b.String(), w)
			}
			verify(t, "promo.service", b.String())
		})
	}
	spec, err := unitSpecOf(self, "/var/lib/promo/promo.db", ":8443", true, "", "", 14)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, backupTemplate.Execute(&b, spec))
	service, timer, ok := strings.Cut(b.String(), "# --- promo-backup.timer ---")
	require.True(t, ok)
	require.Contains(t, service, "backup --dir /var/lib/promo/backups --keep 14")
	verify(t, "promo-backup.service", service)
	verify(t, "promo-backup.timer", timer)
}

func verify(t *testing.T, name, unit string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze is not installed here: %s not verified", name)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(unit), 0o644))
	if strings.HasSuffix(name, ".timer") { // a timer is verified with its service
		require.NoError(t, os.WriteFile(filepath.Join(dir, "promo-backup.service"), []byte("[Service]\nType=oneshot\nExecStart=/bin/true\n"), 0o644))
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify %s:\n%s\n%s", name, out, unit)
	require.NotContains(t, string(out), name+":", "warnings about %s:\n%s", name, out)
}

func TestServiceUnit_BadFlags(t *testing.T) {
	for _, tc := range []struct {
		db, addr, cert, key string
		self                bool
		want                string
	}{
		{"promo.db", ":8443", "", "", true, "absolute"},
		{"/srv/promo.db", ":8443", "", "", true, "StateDirectory"},
		{"/var/lib/promo/promo.db", "8443", "", "", true, "--addr"},
		{"/var/lib/promo/promo.db", ":8443", "/c.pem", "", false, "together"},
		{"/var/lib/promo/promo.db", ":8443", "/c.pem", "/k.pem", true, "not both"},
	} {
		_, err := unitSpecOf("/usr/local/bin/promo", tc.db, tc.addr, tc.self, tc.cert, tc.key, 14)
		require.ErrorContains(t, err, tc.want)
	}
}
