// Deadlines, applied by a sweep: net/http moves a connection's read and
// write deadlines about eight times per request (the header, body, write
// and idle timeouts, each set, moved or cleared), and every move of a
// future deadline is an update of a runtime timer. On a small request that
// is about a twentieth of the server's CPU. A watched connection instead
// keeps the deadlines it is given, and a sweep every deadlineTick applies
// those that have passed. The timeouts keep net/http's meaning; they fire
// up to one tick late. A deadline that has passed when it is moved may
// still fire, as a timer firing at that moment would.

package httpapi

import (
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineTick is how often passed deadlines are applied: the timeouts it
// serves are seconds or minutes long.
const deadlineTick = 100 * time.Millisecond

// deadlineWatch holds the open connections of its listeners and applies
// their passed deadlines.
type deadlineWatch struct {
	now   atomic.Int64 // the last sweep's clock, in Unix nanoseconds
	mu    sync.Mutex
	conns map[*watchedConn]struct{}
}

// watchDeadlines starts a sweep that runs until stop is closed.
func watchDeadlines(stop <-chan struct{}) *deadlineWatch {
	w := &deadlineWatch{conns: make(map[*watchedConn]struct{})}
	w.now.Store(time.Now().UnixNano())
	go w.run(stop)
	return w
}

// listener returns l with its connections' deadlines applied by w.
func (w *deadlineWatch) listener(l net.Listener) net.Listener {
	return &watchedListener{Listener: l, watch: w}
}

func (w *deadlineWatch) run(stop <-chan struct{}) {
	t := time.NewTicker(deadlineTick)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			w.sweep(now)
		case <-stop:
			return
		}
	}
}

// sweep applies the deadlines that have passed by now.
func (w *deadlineWatch) sweep(now time.Time) {
	n := now.UnixNano()
	w.now.Store(n)
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.conns {
		c.mu.Lock()
		c.read.reconcile(n, c.Conn.SetReadDeadline)
		c.write.reconcile(n, c.Conn.SetWriteDeadline)
		c.mu.Unlock()
	}
}

type watchedListener struct {
	net.Listener
	watch *deadlineWatch
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &watchedConn{Conn: c, watch: l.watch}
	l.watch.mu.Lock()
	l.watch.conns[wc] = struct{}{}
	l.watch.mu.Unlock()
	return wc, nil
}

// watchedConn is a connection whose deadlines a deadlineWatch applies.
type watchedConn struct {
	net.Conn
	watch       *deadlineWatch
	mu          sync.Mutex // held to change the connection's own deadlines
	read, write deadline
}

// deadline is one direction's deadline. The connection's own deadline is
// none, or want once it has passed (applied): only a deadline that has
// passed, and clearing it again, touch the connection.
type deadline struct {
	want    atomic.Int64 // Unix nanoseconds; 0: none
	applied atomic.Bool  // changed under watchedConn.mu
}

func (c *watchedConn) SetReadDeadline(t time.Time) error {
	return c.set(&c.read, t, c.Conn.SetReadDeadline)
}

func (c *watchedConn) SetWriteDeadline(t time.Time) error {
	return c.set(&c.write, t, c.Conn.SetWriteDeadline)
}

func (c *watchedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// Bounds of the deadlines kept in Unix nanoseconds, which cover the years
// 1678 to 2262.
var (
	firstNano = time.Unix(0, 1)
	lastNano  = time.Unix(0, math.MaxInt64)
)

// set records t as d's deadline. One that had passed at the last sweep (as
// net/http's way to wake a blocked read has) is applied at once, and so is
// the clearing of one applied before; any other waits for the sweep.
func (c *watchedConn) set(d *deadline, t time.Time, apply func(time.Time) error) error {
	var n int64
	switch {
	case t.IsZero():
	case t.Before(firstNano):
		n = 1
	case t.After(lastNano):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	d.want.Store(n)
	now := c.watch.now.Load()
	if (n != 0 && n <= now) || d.applied.Load() {
		c.mu.Lock()
		defer c.mu.Unlock()
		return d.reconcile(now, apply)
	}
	return nil
}

// reconcile makes the connection's own deadline agree with want as of now;
// the caller holds watchedConn.mu. A set that changes want meanwhile
// without the lock has either seen applied and waits for the lock, or
// stored want before applied changed, and the check after applying sees
// it.
func (d *deadline) reconcile(now int64, apply func(time.Time) error) error {
	for {
		w := d.want.Load()
		passed := w != 0 && w <= now
		if passed == d.applied.Load() {
			return nil
		}
		d.applied.Store(passed)
		at := time.Time{}
		if passed {
			at = time.Unix(0, w)
		}
		// An error means the connection is closed: nothing waits on it.
		if err := apply(at); err != nil || d.want.Load() == w {
			return err
		}
	}
}

func (c *watchedConn) Close() error {
	c.watch.mu.Lock()
	delete(c.watch.conns, c)
	c.watch.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite and ReadFrom keep what net/http looks for on the connection
// it serves: the half-close it sends before closing, and sendfile for
// large answers.
func (c *watchedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *watchedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
