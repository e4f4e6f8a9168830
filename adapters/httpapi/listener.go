package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

var errTooManyConns = errors.New("too many open connections; retry later")

// Bounds of the answer to a connection past the cap. The answer is written
// into a fresh socket's empty buffer, which never waits in practice; then
// what the client sent is read (at most maxRefusedBytes, until the client
// hangs up or refuseTimeout), because closing a socket with unread input
// resets it, and a reset can make the client lose the answer. At most
// maxRefusing connections are answered at once; past them a connection is
// closed without one, so that a flood of connections costs no more than
// that many goroutines.
const (
	refuseTimeout   = time.Second
	maxRefusedBytes = 64 << 10
	maxRefusing     = 256
)

// refusedAnswer is the whole answer to a connection past the cap: a 503
// TOO_MANY_CONNECTIONS as the error table has it, with Retry-After.
var refusedAnswer = func() []byte {
	e := classify(errTooManyConns)
	body := appendError(nil, e.message(errTooManyConns), e.code, nil)
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Retry-After: 1\r\nConnection: close\r\n\r\n%s", e.status, http.StatusText(e.status), len(body), body)
}()

// limitListener caps the connections open at once: one past the cap is
// answered 503 and closed at once, so a client learns to retry (or its
// load balancer to try another instance) instead of waiting. This is not
// golang.org/x/net/netutil.LimitListener, which stops accepting at its cap:
// the excess then waits in the kernel's backlog, hung until a connection
// closes or the client times out.
type limitListener struct {
	net.Listener
	refused  func() // counts a refusal
	max      int64
	open     atomic.Int64
	refusing chan struct{} // one token per connection being refused
}

func newLimitListener(ln net.Listener, limit int, refused func()) *limitListener {
	return &limitListener{Listener: ln, refused: refused, max: int64(limit), refusing: make(chan struct{}, maxRefusing)}
}

// Accept returns the next connection within the cap, refusing those past
// it on the way.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		// Only this goroutine adds, so the count never passes the cap.
		if l.open.Load() < l.max {
			l.open.Add(1)
			return &countedConn{Conn: c, open: &l.open}, nil
		}
		l.refused()
		select {
		case l.refusing <- struct{}{}:
			go func() {
				refuse(c)
				<-l.refusing
			}()
		default:
			_ = c.Close()
		}
	}
}

// refuse answers c 503 and closes it.
func refuse(c net.Conn) {
	defer c.Close()
	if c.SetDeadline(time.Now().Add(refuseTimeout)) != nil {
		return
	}
	if _, err := c.Write(refusedAnswer); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite() // the client reads the answer to its end
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, maxRefusedBytes))
}

// countedConn is a connection within the cap: closing it gives its place
// back, once however often it is closed.
type countedConn struct {
	net.Conn
	open   *atomic.Int64
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.open.Add(-1)
	}
	return c.Conn.Close()
}

// CloseWrite lets net/http half-close the connection before it closes it,
// as it does to a bare *net.TCPConn, so that a client reads an answer sent
// just before the close (the plain-text 431, for one) instead of a reset.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
