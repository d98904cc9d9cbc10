//go:build koala_go && koala_replayer

package hooks_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/koala-replay/koala/go-hooks/internal/hooks"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

func TestReplayRedirectsConnectsToTheOutboundAddress(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	hooks.SetMode(pb.Mode_MODE_REPLAY)
	defer hooks.SetMode(pb.Mode_MODE_RECORD)
	real, replayer := listen(t), listen(t)
	hooks.SetOutbound(replayer.Addr().String())
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := replayer.Accept()
		if err == nil {
			accepted <- c.RemoteAddr()
			c.Close()
		}
	}()
	c, err := net.Dial("tcp4", real.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	from := <-accepted
	if from.String() != c.LocalAddr().String() || !from.(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("replayer saw %v, want the client's 127.0.0.1 source %v", from, c.LocalAddr())
	}
	conn := connectTo(t, rec.Events(), port(real.Addr()))
	if conn.Local.GetPort() != uint32(port(c.LocalAddr())) || !bytes.Equal(conn.Local.GetIp(), []byte{127, 0, 0, 1}) {
		t.Fatalf("CONNECT local %v, want the bound %v", conn.Local, c.LocalAddr())
	}
}
