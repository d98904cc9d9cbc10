//go:build !koala_go

package hooks_test

import (
	"io"
	"net"
	"testing"

	koala "github.com/koala-replay/koala/go-hooks"
	"github.com/koala-replay/koala/go-hooks/internal/hooks"
)

// TestWithoutTagNothingIsRecorded uses every API call and a loopback conversation in an
// untagged build: none may panic, the API must report itself off, and not a single event may
// appear. (Untagged, nothing calls publish today; the event check keeps it that way.)
func TestWithoutTagNothingIsRecorded(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	hooks.Install()
	if koala.Enabled || koala.Recording() || koala.CurrentOwner() != 0 {
		t.Fatalf("untagged build: Enabled %v, Recording %v, CurrentOwner %d", koala.Enabled, koala.Recording(), koala.CurrentOwner())
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	koala.Delegate(77)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("echo"))
	io.ReadFull(c, make([]byte, 4))
	koala.OneWay(c)
	koala.ShutdownSession()
	koala.Exclude()
	c.Close()
	if n := len(rec.Events()); n != 0 {
		t.Fatalf("%d events from an untagged build", n)
	}
}
