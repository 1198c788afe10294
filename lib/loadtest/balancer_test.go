//go:build integration

package loadtest_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// balancer stands in for the platform's load balancer in front of a
// cluster: one address whose every new connection goes to the first node,
// in order of preference, that accepts it. It reads what clients send as
// AMQP frames, so that it can tell connections apart by the
// connection_name they announce and hold back, on some of them, every
// frame they send (publishes that then never reach the broker). While it
// refuses, it closes every new connection at once, as a balancer does
// while no node is healthy yet.
type balancer struct {
	ln       net.Listener
	backends []string // host:port, in order of preference
	wg       sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	refusing bool
	conns    map[*lbConn]bool
	dialed   map[string]int // connections made to each backend
	held     int            // basic.publish frames held back
}

type lbConn struct {
	client, server net.Conn
	backend        string
	name           string // the AMQP connection_name, once the client sent it
	hold           bool   // drop the frames the client sends
}

// newBalancer listens on 127.0.0.1 in front of the AMQP URLs (their
// host:port) until the test ends.
func newBalancer(t *testing.T, urls ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, conns: map[*lbConn]bool{}, dialed: map[string]int{}}
	for _, u := range urls {
		b.backends = append(b.backends, hostPort(t, u))
	}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

// URL is the AMQP URL of the balancer.
func (b *balancer) URL() string { return fmt.Sprintf("amqp://guest:guest@%s/", b.ln.Addr()) }

func (b *balancer) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go b.serve(c)
	}
}

func (b *balancer) serve(client net.Conn) {
	defer b.wg.Done()
	b.mu.Lock()
	refusing := b.refusing
	b.mu.Unlock()
	if refusing {
		_ = client.Close()
		return
	}
	var server net.Conn
	var backend string
	for _, a := range b.backends {
		var err error
		if server, err = net.DialTimeout("tcp", a, 2*time.Second); err == nil {
			backend = a
			break
		}
	}
	if server == nil {
		_ = client.Close()
		return
	}
	c := &lbConn{client: client, server: server, backend: backend}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = client.Close()
		_ = server.Close()
		return
	}
	b.conns[c], b.dialed[backend] = true, b.dialed[backend]+1
	b.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(client, server); done <- struct{}{} }()
	go func() { b.forward(c); done <- struct{}{} }()
	<-done
	_ = client.Close()
	_ = server.Close()
	<-done
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

// forward copies the client's protocol header, then its frames one by one
// (type, channel, size, payload, frame end), unless the connection is held.
func (b *balancer) forward(c *lbConn) {
	r := bufio.NewReaderSize(c.client, 64<<10)
	w := bufio.NewWriterSize(c.server, 64<<10)
	head := make([]byte, 8) // "AMQP" 0 0 9 1
	if _, err := io.ReadFull(r, head); err != nil {
		return
	}
	if _, err := w.Write(head); err != nil || w.Flush() != nil {
		return
	}
	var hdr [7]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		frame := make([]byte, 7+int(binary.BigEndian.Uint32(hdr[3:]))+1)
		copy(frame, hdr[:])
		if _, err := io.ReadFull(r, frame[7:]); err != nil {
			return
		}
		payload := frame[7 : len(frame)-1]
		method := hdr[0] == 1 && len(payload) >= 4
		b.mu.Lock()
		if c.name == "" && method && bytes.Equal(payload[:4], []byte{0, 10, 0, 11}) { // connection.start-ok
			c.name = connectionName(payload)
		}
		hold := c.hold
		if hold && method && bytes.Equal(payload[:4], []byte{0, 60, 0, 40}) { // basic.publish
			b.held++
		}
		b.mu.Unlock()
		if hold {
			continue
		}
		if _, err := w.Write(frame); err != nil {
			return
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// connectionName reads the connection_name client property of a
// connection.start-ok payload ("" when absent).
func connectionName(payload []byte) string {
	key := []byte("\x0fconnection_nameS")
	i := bytes.Index(payload, key)
	if i < 0 || i+len(key)+4 > len(payload) {
		return ""
	}
	at := i + len(key)
	n := int(binary.BigEndian.Uint32(payload[at:]))
	if at+4+n > len(payload) {
		return ""
	}
	return string(payload[at+4 : at+4+n])
}

// hold drops, from now on, every frame sent on the open connections whose
// connection_name ends with suffix; it returns how many it holds.
func (b *balancer) hold(suffix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for c := range b.conns {
		if c.name != "" && strings.HasSuffix(c.name, suffix) {
			c.hold = true
			n++
		}
	}
	return n
}

// refuse sets whether new connections are refused.
func (b *balancer) refuse(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refusing = on
}

// heldPublishes is the number of basic.publish frames held back so far.
func (b *balancer) heldPublishes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// dialedTo is the number of connections made to the backend of an AMQP URL.
func (b *balancer) dialedTo(t *testing.T, amqpURL string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dialed[hostPort(t, amqpURL)]
}

func hostPort(t *testing.T, amqpURL string) string {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func (b *balancer) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		_ = c.client.Close()
		_ = c.server.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
