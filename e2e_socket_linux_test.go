package main

// The admin socket's owner check: a socket another user listens on is
// refused with exit 3, and nothing is sent to it (Linux only: it needs
// the peer credentials of a unix socket and a second user).

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An impostor: the test binary run as another user, listening on a
// database's socket and answering every request with a made-up admin key,
// as the process the issue found did. It notes each request it gets.
const impostorEnv = "PROMO_E2E_IMPOSTOR_SOCKET"

func init() { helperModes[impostorEnv] = impostorMain }

func impostorMain() int {
	sock, logPath := os.Getenv(impostorEnv), os.Getenv(impostorEnv)+".requests"
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "impostor:", err)
		return 1
	}
	os.Chmod(sock, 0o666)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		fmt.Fprintln(os.Stderr, "impostor:", err)
		return 1
	}
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(log, "%s %s %s\n", r.Method, r.URL.Path, b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"key":{"name":"evil","role":"admin"},"secret":"pk_MADEUPBYTHEIMPOSTOR"}`)
	}))
	return 0
}

// TestBinary_RefusesAnotherUsersSocket: in a directory anyone may write
// to, a process of another user (uid 65534) listens on the database's
// FILE.sock. The CLI, run as the database's owner, refuses it with exit 3
// and says whose it is; it sends nothing and never falls back to opening
// the file. The same holds when the socket file is made to look like the
// owner's (the kernel's record of the listener is checked), and for the
// socket the impostor leaves behind.
//
// At the time of writing this failed: the impostor received `keys create
// … --role admin` and the CLI printed its made-up secret.
func TestBinary_RefusesAnotherUsersSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test starts a listener as another user (uid 65534), which only root may do")
	}
	t.Parallel()
	e := newEnv(t)
	require.NoError(t, os.Chmod(e.dir, 0o777)) // world-writable, as /tmp-like shared directories are
	e.mustCLI("campaign", "create", "c", "--kind", "generic", "--percent", "10")
	sock := e.db + ".sock"
	t.Cleanup(func() { os.Remove(sock) }) // before the env's own cleanup checks the file

	// The test binary, where uid 65534 may run it.
	binDir, err := os.MkdirTemp("", "pe2e-impostor-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(binDir) })
	require.NoError(t, os.Chmod(binDir, 0o755))
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(binDir, "impostor")
	copyExecutable(t, self, bin)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), impostorEnv+"="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, Pdeathsig: syscall.SIGKILL}
	var impostorErr strings.Builder
	cmd.Stderr = &impostorErr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	eventually(t, 10*time.Second, "the impostor's socket", func() bool {
		select {
		case <-exited:
			t.Fatalf("the impostor exited: %s", impostorErr.String())
		default:
		}
		_, err := os.Stat(sock + ".requests")
		return err == nil
	})
	requireNoRequests := func() {
		t.Helper()
		b, err := os.ReadFile(sock + ".requests")
		require.NoError(t, err)
		require.Empty(t, string(b), "the impostor got nothing")
	}

	res := e.cli("keys", "create", "boss", "--role", "admin")
	require.Equal(t, 3, res.code, "%s", res)
	require.NotContains(t, res.stdout, "pk_MADEUPBYTHEIMPOSTOR")
	require.Contains(t, res.stderr, "promo: "+sock+" belongs to uid 65534 (nobody), not to root, who owns "+e.db+": another user's process may be listening there")
	require.Contains(t, res.stderr, "nothing was sent")
	require.Contains(t, res.stderr, "remove the socket (rm "+sock+")")
	res = e.cli("import", "c", "-")
	require.Equal(t, 3, res.code, "%s", res)
	requireNoRequests()

	// The file made to look like root's: the kernel still knows who listens.
	require.NoError(t, os.Lchown(sock, 0, 0))
	res = e.cli("keys", "create", "boss", "--role", "admin")
	require.Equal(t, 3, res.code, "%s", res)
	require.Contains(t, res.stderr, sock+" is answered by a process of uid 65534 (nobody)")
	require.NotContains(t, res.stdout, "pk_MADEUPBYTHEIMPOSTOR")
	requireNoRequests()

	// The socket the impostor leaves behind is not trusted either, and the
	// CLI does not fall back to opening the file behind it.
	require.NoError(t, os.Lchown(sock, 65534, 65534))
	require.NoError(t, cmd.Process.Kill())
	<-exited
	_, err = os.Lstat(sock)
	require.NoError(t, err, "a killed listener leaves its socket")
	res = e.cli("campaign", "list")
	require.Equal(t, 3, res.code, "%s", res)
	require.Contains(t, res.stderr, "belongs to uid 65534 (nobody)")

	require.NoError(t, os.Remove(sock))
	require.Contains(t, e.mustCLI("campaign", "list"), "c", "without the socket, the file itself")
	keys := e.mustCLI("keys", "list")
	require.NotContains(t, keys, "boss", "no key was made anywhere")
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
