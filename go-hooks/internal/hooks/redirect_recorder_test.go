//go:build koala_go && !koala_replayer

package hooks_test

import (
	"net"
	"testing"

	"github.com/koala-replay/koala/go-hooks/internal/hooks"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// TestRecorderOnlyNeverRedirects asks for replay in a binary built without koala_replayer.
func TestRecorderOnlyNeverRedirects(t *testing.T) {
	if hooks.AllowedMode()&pb.Mode_MODE_REPLAY != 0 {
		t.Fatalf("allowed mode %v: this build must not allow replay", hooks.AllowedMode())
	}
	hooks.SetMode(pb.Mode_MODE_RECORD_AND_REPLAY)
	defer hooks.SetMode(pb.Mode_MODE_RECORD)
	real, replayer := listen(t), listen(t)
	hooks.SetOutbound(replayer.Addr().String())
	c, err := net.Dial("tcp4", real.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); got != real.Addr().String() {
		t.Fatalf("connected to %s, want the real %s", got, real.Addr())
	}
}
