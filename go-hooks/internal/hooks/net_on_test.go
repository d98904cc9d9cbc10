//go:build koala_go

package hooks_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/koala-replay/koala/go-hooks/internal/hooks"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// TestLoopbackConversation checks every event of one request/response on a loopback TCP
// connection, from both ends.
func TestLoopbackConversation(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := listen(t)
	type handler struct {
		root, child uint64
	}
	served := make(chan handler, 1)
	go func() { // accept loop: never a session root
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			buf := make([]byte, 5)
			io.ReadFull(c, buf) // the first read makes this goroutine the root
			h := handler{root: current().goid}
			done := make(chan uint64)
			go func() {
				c.Write([]byte("world!"))
				done <- current().owner
			}()
			h.child = <-done
			io.Copy(io.Discard, c) // until the client's EOF
			c.Close()
			served <- h
		}()
	}()

	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	resp := make([]byte, 6)
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatal(err)
	}
	clientPort := port(c.LocalAddr())
	c.Close()
	h := <-served
	if h.child != h.root {
		t.Fatalf("responding child's owner %d, want the root %d", h.child, h.root)
	}

	var server []*pb.Event
	eventually(t, "the server's CLOSE", func() bool {
		acc := acceptFrom(t, rec.Events(), clientPort)
		server = connEvents(rec.Events(), acc.ConnId)
		return len(kindEvents(server, pb.EventKind_EVENT_KIND_CLOSE)) == 1
	})
	acc := kindEvents(server, pb.EventKind_EVENT_KIND_ACCEPT)[0]
	if acc.Local.GetPort() != uint32(port(ln.Addr())) || !bytes.Equal(acc.Local.GetIp(), []byte{127, 0, 0, 1}) {
		t.Fatalf("ACCEPT local %v, want the listener %v", acc.Local, ln.Addr())
	}
	if acc.Vtid != 0 {
		t.Fatalf("ACCEPT vtid %d: the accept loop must not own a session", acc.Vtid)
	}
	recvs := kindEvents(server, pb.EventKind_EVENT_KIND_RECV)
	if got := bytesOf(server, pb.EventKind_EVENT_KIND_RECV); string(got) != "hello" {
		t.Fatalf("server RECV bytes %q, want %q", got, "hello")
	}
	last := recvs[len(recvs)-1]
	if len(last.Payload) != 0 || last.PayloadLen != 0 {
		t.Fatalf("last server RECV %q, want the empty EOF event", last.Payload)
	}
	for _, ev := range recvs {
		if uint64(ev.Tid) != h.root || uint64(ev.Vtid) != h.root {
			t.Fatalf("server RECV tid/vtid %d/%d, want the root %d", ev.Tid, ev.Vtid, h.root)
		}
	}
	sends := kindEvents(server, pb.EventKind_EVENT_KIND_SEND)
	if len(sends) != 1 || string(sends[0].Payload) != "world!" || uint64(sends[0].Vtid) != h.root || uint64(sends[0].Tid) == h.root {
		t.Fatalf("server SEND %v, want %q by the child with vtid %d", sends, "world!", h.root)
	}

	conn := connectTo(t, rec.Events(), port(ln.Addr()))
	client := connEvents(rec.Events(), conn.ConnId)
	if client[0] != conn {
		t.Fatalf("first client event %v, want the CONNECT", client[0].Kind)
	}
	if conn.Peer.GetPort() != uint32(port(ln.Addr())) {
		t.Fatalf("CONNECT peer %v", conn.Peer)
	}
	if got := bytesOf(client, pb.EventKind_EVENT_KIND_SEND); string(got) != "hello" {
		t.Fatalf("client SEND %q", got)
	}
	if got := bytesOf(client, pb.EventKind_EVENT_KIND_RECV); string(got) != "world!" {
		t.Fatalf("client RECV %q", got)
	}
	if k := client[len(client)-1].Kind; k != pb.EventKind_EVENT_KIND_CLOSE {
		t.Fatalf("last client event %v, want CLOSE", k)
	}
	if conn.ConnId == acc.ConnId {
		t.Fatal("both ends share a conn_id")
	}
}

func TestWritevReportsEveryByte(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := listen(t)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	bufs := net.Buffers{[]byte("one "), []byte("two "), []byte("three")}
	if _, err := bufs.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if b := <-got; string(b) != "one two three" {
		t.Fatalf("server got %q", b)
	}
	conn := connectTo(t, rec.Events(), port(ln.Addr()))
	if b := bytesOf(connEvents(rec.Events(), conn.ConnId), pb.EventKind_EVENT_KIND_SEND); string(b) != "one two three" {
		t.Fatalf("writev SEND bytes %q", b)
	}
}

func TestSendfileIsBypassedWhileRecording(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	content := bytes.Repeat([]byte("0123456789abcdef"), 9000) // 144000 bytes: several chunks
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(c, f); err != nil { // sendfile(2) unless koala turns it off
		t.Fatal(err)
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, content) {
		t.Fatalf("server got %d bytes", len(b))
	}
	conn := connectTo(t, rec.Events(), port(ln.Addr()))
	sends := kindEvents(connEvents(rec.Events(), conn.ConnId), pb.EventKind_EVENT_KIND_SEND)
	if b := bytesOf(sends, pb.EventKind_EVENT_KIND_SEND); !bytes.Equal(b, content) {
		t.Fatalf("recorded %d of %d sent bytes", len(b), len(content))
	}
	for _, ev := range sends {
		if len(ev.Payload) > 64<<10 {
			t.Fatalf("one SEND carries %d bytes, above 64 KiB", len(ev.Payload))
		}
	}
}

func TestUDPWriteToIsADatagram(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	dst, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	src, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.WriteTo([]byte("ping"), dst.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	want := uint32(dst.LocalAddr().(*net.UDPAddr).Port)
	for _, ev := range kindEvents(rec.Events(), pb.EventKind_EVENT_KIND_DATAGRAM) {
		if ev.Peer.GetPort() == want && string(ev.Payload) == "ping" && ev.SocketType == pb.SocketType_SOCKET_TYPE_DGRAM {
			return
		}
	}
	t.Fatalf("no DATAGRAM \"ping\" to port %d", want)
}

func TestOneWayMarksTheConnection(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := drainingListener(t)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("fire and forget"))
	hooks.OneWay(c)
	conn := connectTo(t, rec.Events(), port(ln.Addr()))
	b := kindEvents(connEvents(rec.Events(), conn.ConnId), pb.EventKind_EVENT_KIND_BOUNDARY)
	if len(b) != 1 {
		t.Fatalf("%d BOUNDARY events on the connection, want 1", len(b))
	}
}

// TestConcurrentClosesReportOneClose closes each connection from two goroutines at once, as
// net/http does when Server.Close meets a connection's own close. The hooks must report one
// CLOSE with the descriptor the connection had, and (under -race) must not read the descriptor
// that the losing Close is destroying.
func TestConcurrentClosesReportOneClose(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := listen(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	const conns = 100
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		done := make(chan struct{}, 2)
		for j := 0; j < 2; j++ {
			go func() { <-start; c.Close(); done <- struct{}{} }()
		}
		close(start)
		<-done
		<-done
	}
	evs := rec.Events()
	connects := kindEvents(evs, pb.EventKind_EVENT_KIND_CONNECT)
	var mine int
	for _, conn := range connects {
		if conn.OriginalDst.GetPort() != uint32(port(ln.Addr())) {
			continue
		}
		mine++
		closes := kindEvents(connEvents(evs, conn.ConnId), pb.EventKind_EVENT_KIND_CLOSE)
		if len(closes) != 1 {
			t.Fatalf("connection %d: %d CLOSE events, want 1", conn.ConnId, len(closes))
		}
		if closes[0].Fd != conn.Fd || conn.Fd < 0 {
			t.Fatalf("connection %d: CLOSE fd %d, CONNECT fd %d", conn.ConnId, closes[0].Fd, conn.Fd)
		}
	}
	if mine != conns {
		t.Fatalf("%d CONNECTs to the listener, want %d", mine, conns)
	}
}
