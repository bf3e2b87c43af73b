package httpapi

import (
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// watchedPair returns a connection accepted through a watched listener
// and the client end of it. With sweeps false no sweep runs, so only set
// can touch the connection's deadlines.
func watchedPair(t *testing.T, sweeps bool) (*deadlineWatch, *watchedConn, net.Conn) {
	t.Helper()
	stop := make(chan struct{})
	if !sweeps {
		close(stop)
	}
	w := watchDeadlines(stop)
	if sweeps {
		t.Cleanup(func() { close(stop) })
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := w.listener(raw)
	t.Cleanup(func() { l.Close() })
	client, err := net.Dial("tcp", raw.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	c, err := l.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return w, c.(*watchedConn), client
}

func TestWatchedConn_AReadDeadlineFiresOnceItPasses(t *testing.T) {
	_, c, _ := watchedPair(t, true)
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(300*time.Millisecond)))
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 300*time.Millisecond, "not before the deadline")
	require.Less(t, took, 300*time.Millisecond+20*deadlineTick, "within a few sweeps of it")
}

func TestWatchedConn_AWriteDeadlineStopsAWriteThePeerDoesNotRead(t *testing.T) {
	_, c, _ := watchedPair(t, true)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
	buf := make([]byte, 1<<20)
	var err error
	for i := 0; i < 1000 && err == nil; i++ { // the socket buffers fill; then the write blocks
		_, err = c.Write(buf)
	}
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// net/http moves the read deadline several times per request: a deadline
// moved later must not fire at its earlier time.
func TestWatchedConn_AMovedDeadlineFiresAtItsNewTime(t *testing.T) {
	_, c, client := watchedPair(t, true)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Minute)))
	go func() {
		time.Sleep(50*time.Millisecond + 5*deadlineTick)
		client.Write([]byte("x"))
	}()
	n, err := c.Read(make([]byte, 1))
	require.NoError(t, err)
	require.Equal(t, 1, n)

	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	go func() {
		time.Sleep(50*time.Millisecond + 5*deadlineTick)
		client.Write([]byte("y"))
	}()
	_, err = c.Read(make([]byte, 1))
	require.NoError(t, err, "a cleared deadline does not fire")
}

// net/http ends every request by setting a read deadline in the past, to
// wake its background read, and then clearing it. Both take effect at once,
// without waiting for a sweep (none runs here).
func TestWatchedConn_APastDeadlineWakesAReadAtOnceAndClearingItMakesTheConnUsable(t *testing.T) {
	_, c, client := watchedPair(t, false)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read block
	require.NoError(t, c.SetReadDeadline(time.Unix(1, 0)))
	select {
	case err := <-errc:
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	case <-time.After(10 * time.Second):
		t.Fatal("a deadline in the past did not wake the read")
	}
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	_, err := client.Write([]byte("z"))
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = c.Read(b)
	require.NoError(t, err)
	require.Equal(t, "z", string(b))
}

// Sets racing sweeps: after the pattern net/http uses (a deadline in the
// past, then a later one) the connection reads, whatever the sweep did
// meanwhile.
func TestWatchedConn_SetsRacingSweepsLeaveTheLastDeadline(t *testing.T) {
	w, c, client := watchedPair(t, false)
	done := make(chan struct{})
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		for {
			select {
			case <-done:
				return
			default:
				w.sweep(time.Now())
			}
		}
	}()
	b := make([]byte, 1)
	for i := range 2000 {
		_, err := client.Write([]byte{byte(i)})
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Unix(1, 0)))
		later := time.Now().Add(time.Hour)
		if i%2 == 0 {
			later = time.Time{}
		}
		require.NoError(t, c.SetReadDeadline(later))
		_, err = c.Read(b)
		require.NoError(t, err, "round %d", i)
		require.Equal(t, byte(i), b[0])
	}
	close(done)
	<-swept
}

// open reports how many connections the watch holds.
func (w *deadlineWatch) open() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

func TestWatchedConn_CloseLeavesTheWatch(t *testing.T) {
	w, c, _ := watchedPair(t, false)
	require.Equal(t, 1, w.open())
	require.NoError(t, c.Close())
	require.Equal(t, 0, w.open())
	require.Error(t, c.SetReadDeadline(time.Unix(1, 0)), "a closed connection says so")
}

// net/http half-closes a connection before closing it and sends large
// answers with the connection's ReadFrom (sendfile); both reach the TCP
// connection.
func TestWatchedConn_KeepsHalfCloseAndReadFrom(t *testing.T) {
	_, c, client := watchedPair(t, false)
	var _ io.ReaderFrom = c
	payload := strings.Repeat("promo ", 50000)
	n, err := c.ReadFrom(strings.NewReader(payload))
	require.NoError(t, err)
	require.EqualValues(t, len(payload), n)
	require.NoError(t, c.CloseWrite())
	got, err := io.ReadAll(client)
	require.NoError(t, err, "the half-close ends the client's read")
	require.True(t, bytes.Equal([]byte(payload), got))
	_, err = client.Write([]byte("still open the other way"))
	require.NoError(t, err)
	b := make([]byte, 5)
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)
	require.Equal(t, "still", string(b))
}
