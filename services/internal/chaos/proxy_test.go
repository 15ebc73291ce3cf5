package chaos

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy modes.
const (
	modePass    = iota // forward to the real server
	modeAway           // nothing listens: connection refused
	modeSilent         // accept, read, never answer
	modeSMTP4xx        // a TLS SMTP server answering 451 to every MAIL FROM
)

// faultProxy stands between services and a server the suite must not stop
// for others (Dovecot, Postfix): it can close every connection (a restart),
// refuse connections (away), accept and stay silent, or, for SMTP, answer
// 4xx. A plain TCP proxy: TLS passes through it untouched.
type faultProxy struct {
	addr   string // where the services connect
	target string
	tlsCfg *tls.Config // for modeSMTP4xx

	mu    sync.Mutex
	mode  int
	ln    net.Listener
	conns map[net.Conn]struct{}
	// armCut: close every connection as soon as a server→client read of at
	// least 4 KiB is forwarded (a message literal in flight: mid-FETCH).
	armCut atomic.Bool
	cutAt  chan time.Time
	// Counters.
	accepted, answered4xx atomic.Int64
}

func newProxy(t testing.TB, target string, tlsCfg *tls.Config) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{addr: ln.Addr().String(), target: target, tlsCfg: tlsCfg, conns: map[net.Conn]struct{}{}, cutAt: make(chan time.Time, 1)}
	p.ln = ln
	go p.serve(ln)
	t.Cleanup(func() { p.setMode(t, modeAway) })
	return p
}

func (p *faultProxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		mode := p.mode
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		switch mode {
		case modeSilent:
			go func() { _, _ = io.Copy(io.Discard, c); p.drop(c) }()
		case modeSMTP4xx:
			go p.smtp4xx(c)
		default:
			go p.pipe(c)
		}
	}
}

func (p *faultProxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *faultProxy) pipe(c net.Conn) {
	defer p.drop(c)
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	defer p.drop(s)
	go func() { _, _ = io.Copy(s, c); p.drop(s) }()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			if n >= 4<<10 && p.armCut.CompareAndSwap(true, false) {
				p.cutAll()
				select {
				case p.cutAt <- time.Now():
				default:
				}
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cutAll closes every open connection, both sides (RST where it can).
func (p *faultProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		delete(p.conns, c)
	}
}

// setMode switches the mode; modeAway closes the listener and every
// connection, and leaving it listens again on the same port.
func (p *faultProxy) setMode(t testing.TB, mode int) {
	p.mu.Lock()
	old := p.mode
	p.mode = mode
	p.mu.Unlock()
	if mode == old {
		return
	}
	if mode == modeAway {
		p.mu.Lock()
		ln := p.ln
		p.ln = nil
		p.mu.Unlock()
		if ln != nil {
			ln.Close()
		}
		p.cutAll()
		return
	}
	if old == modeAway {
		var ln net.Listener
		var err error
		for i := 0; i < 50; i++ {
			if ln, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
		}
		p.mu.Lock()
		p.ln = ln
		p.mu.Unlock()
		go p.serve(ln)
	}
	// Connections of the former mode go: the next ones get the new mode.
	p.cutAll()
}

// smtp4xx answers as a relay that is up but defers every mail (451), as
// Postfix does when its queue or a lookup fails: over implicit TLS, like
// the relay the ack service submits to.
func (p *faultProxy) smtp4xx(raw net.Conn) {
	defer p.drop(raw)
	c := tls.Server(raw, p.tlsCfg)
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	w := bufio.NewWriter(c)
	r := bufio.NewReader(c)
	say := func(s string) bool { w.WriteString(s + "\r\n"); return w.Flush() == nil }
	if !say("220 chaos.bndmr.test ESMTP (fault injection: every mail deferred)") {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-chaos.bndmr.test")
			say("250-8BITMIME")
			say("250 ENHANCEDSTATUSCODES")
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "NOOP"), strings.HasPrefix(cmd, "RSET"):
			say("250 2.0.0 OK")
		case strings.HasPrefix(cmd, "MAIL"):
			p.answered4xx.Add(1)
			say("451 4.3.0 chaos: temporary failure, try again later")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 2.0.0 bye")
			return
		default:
			say("451 4.3.0 chaos: temporary failure, try again later")
		}
	}
}
