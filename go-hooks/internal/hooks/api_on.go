//go:build koala_go

package hooks

import (
	"net"

	"github.com/koala-replay/koala/go-hooks/internal/agent"
	"github.com/koala-replay/koala/go-hooks/internal/gid"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// ignoredConn is net's connection id of a connection koala never reports.
const ignoredConn = ^uint64(0)

// Delegate makes the current goroutine (and those it starts later) work for owner; 0 undoes it.
func Delegate(owner uint64) {
	defer discard()
	if gid.Excluded() {
		return
	}
	gid.SetOwner(owner)
	helper(cmdDelegate, owner)
}

// CurrentOwner is the id to hand to a worker's Delegate.
func CurrentOwner() uint64 { return gid.Effective() }

// Exclude keeps the current goroutine and its future children out of every recording.
func Exclude() { gid.ExcludeCurrent() }

// ShutdownSession ends the session of the current owner.
func ShutdownSession() {
	defer discard()
	if gid.Excluded() {
		return
	}
	helper(cmdShutdown, gid.Effective())
}

// OneWay marks the bytes sent so far on conn as expecting no response.
func OneWay(conn net.Conn) {
	defer discard()
	if gid.Excluded() || conn == nil {
		return
	}
	// TLS and other wrappers expose the socket underneath.
	for {
		u, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = u.NetConn()
	}
	id, fd := net.KoalaConnID(conn)
	if id == 0 || id == ignoredConn {
		return
	}
	ev := newEvent(pb.EventKind_EVENT_KIND_BOUNDARY)
	ev.ConnId, ev.Fd = id, int32(fd)
	publish(&ev)
}

func helper(cmd string, arg uint64) {
	ev := newEvent(pb.EventKind_EVENT_KIND_HELPER)
	ev.Payload = []byte(cmd + "\n") // rare: the allocation does not matter
	ev.PayloadLen = uint64(len(ev.Payload))
	ev.More = &agent.RecordMore{Flags: int64(arg)}
	publish(&ev)
}
