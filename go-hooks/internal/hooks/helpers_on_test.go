//go:build koala_go

package hooks_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/koala-replay/koala/go-hooks/internal/hooks"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

func TestMain(m *testing.M) {
	hooks.InstallHooks()
	hooks.SetMode(pb.Mode_MODE_RECORD)
	os.Exit(m.Run())
}

func kindEvents(evs []*pb.Event, kind pb.EventKind) []*pb.Event {
	var out []*pb.Event
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func connEvents(evs []*pb.Event, id uint64) []*pb.Event {
	var out []*pb.Event
	for _, ev := range evs {
		if ev.ConnId == id {
			out = append(out, ev)
		}
	}
	return out
}

// connectTo finds the CONNECT event whose original destination has port.
func connectTo(t *testing.T, evs []*pb.Event, port int) *pb.Event {
	t.Helper()
	var found *pb.Event
	for _, ev := range kindEvents(evs, pb.EventKind_EVENT_KIND_CONNECT) {
		if ev.OriginalDst.GetPort() == uint32(port) {
			if found != nil {
				t.Fatalf("two CONNECTs to port %d", port)
			}
			found = ev
		}
	}
	if found == nil {
		t.Fatalf("no CONNECT to port %d in %d events", port, len(evs))
	}
	return found
}

// acceptFrom finds the ACCEPT event whose peer has port.
func acceptFrom(t *testing.T, evs []*pb.Event, port int) *pb.Event {
	t.Helper()
	for _, ev := range kindEvents(evs, pb.EventKind_EVENT_KIND_ACCEPT) {
		if ev.Peer.GetPort() == uint32(port) {
			return ev
		}
	}
	t.Fatalf("no ACCEPT from port %d in %d events", port, len(evs))
	return nil
}

// bytesOf concatenates the payloads of one kind.
func bytesOf(evs []*pb.Event, kind pb.EventKind) []byte {
	var b bytes.Buffer
	for _, ev := range kindEvents(evs, kind) {
		b.Write(ev.Payload)
	}
	return b.Bytes()
}

func port(a net.Addr) int { return a.(*net.TCPAddr).Port }

// eventually polls cond, because some events (exit, close) come from other goroutines.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// drainingListener is a loopback listener that accepts one connection and reads it to the end.
func drainingListener(t *testing.T) net.Listener {
	ln := listen(t)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	return ln
}
