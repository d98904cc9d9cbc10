//go:build koala_go

package hooks

import (
	"net"
	"syscall"
	"time"

	"github.com/koala-replay/koala/go-hooks/internal/agent"
	"github.com/koala-replay/koala/go-hooks/internal/gid"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// Recording reports whether this process records now (zero-copy I/O is avoided meanwhile).
func Recording() bool { return mode()&pb.Mode_MODE_RECORD != 0 }

// reportingAllBytes reports whether every byte must go through Read/Write now (zero-copy paths
// avoided): while recording, and while replaying, where the gateway attributes each request on
// a pooled connection by the SEND byte counts, so an unreported write would stall it.
func reportingAllBytes() bool { return mode()&(pb.Mode_MODE_RECORD|pb.Mode_MODE_REPLAY) != 0 }

// newEvent stamps an event with the current goroutine's identity and, when the goroutine is the
// owner of the event's session, marks it as tracked, so its exit is reported.
func newEvent(kind pb.EventKind) agent.Record {
	var r agent.Record
	stamp(&r, kind)
	return r
}

// stamp is newEvent filling a record in place. The hot hooks use it: they run at the deepest
// point of the SUT's stacks, where every byte of frame can make the runtime grow (copy) a stack.
func stamp(r *agent.Record, kind pb.EventKind) {
	goid, parent, owner := gid.Current()
	// The gateway keys a session by its owner (the goroutine itself when it has none), and a
	// THREAD_EXIT ends the session keyed by the exiting goroutine. A goroutine working for another
	// (inherited or delegated owner, e.g. every fan-out child) keys none: its exit would be a fifth
	// of all events, for nothing.
	if owner == 0 || owner == goid {
		if f := gid.Flags(); f&gid.FlagTracked == 0 {
			gid.SetFlags(f | gid.FlagTracked)
		}
	}
	r.TsNs = uint64(time.Now().UnixNano())
	r.Tid, r.Vtid, r.ParentTid = int64(goid), int64(owner), int64(parent)
	r.Kind = kind
}

// discard swallows a panic: a hook must never take the application down.
func discard() { _ = recover() }

func onConnect(fd, sotype int, id uint64, ra syscall.Sockaddr) (redirect syscall.Sockaddr, ignore bool) {
	defer discard()
	if gid.Excluded() {
		return nil, true
	}
	dst := fromSockaddr(ra)
	if agent.IsBypass(hostPort(dst)) {
		return nil, true
	}
	if sotype != syscall.SOCK_STREAM {
		return nil, false // datagrams report their own destination
	}
	var local *pb.Address
	if mode()&pb.Mode_MODE_REPLAY != 0 && dst != nil && dst.Family != pb.AddressFamily_ADDRESS_FAMILY_UNIX {
		_, v6 := ra.(*syscall.SockaddrInet6)
		if to := redirectSockaddr(outboundAddr(), v6); to != nil {
			_ = syscall.Bind(fd, loopbackAny(v6)) // fails harmlessly when the dialer bound already
			if sa, err := syscall.Getsockname(fd); err == nil {
				local = fromSockaddr(sa)
			}
			redirect = to
		}
	}
	ev := newEvent(pb.EventKind_EVENT_KIND_CONNECT)
	ev.ConnId, ev.Fd, ev.SocketType = id, int32(fd), pb.SocketType_SOCKET_TYPE_STREAM
	ev.More = &agent.RecordMore{Peer: dst, OriginalDst: dst, Local: local}
	publish(&ev)
	return redirect, false
}

func onAccept(fd int, id, listenID uint64, laddr, raddr net.Addr) bool {
	defer discard()
	if gid.Excluded() {
		return true
	}
	local := fromAddr(laddr)
	if agent.IsBypass(hostPort(local)) {
		return true
	}
	ev := newEvent(pb.EventKind_EVENT_KIND_ACCEPT)
	ev.ConnId, ev.Fd, ev.SocketType = id, int32(fd), pb.SocketType_SOCKET_TYPE_STREAM
	ev.More = &agent.RecordMore{ListenConnId: listenID, Local: local, Peer: fromAddr(raddr)}
	publish(&ev)
	return false
}

// roleAccepted is net's koalaRole of an accepted connection; 0 means not seen opening.
const (
	roleUnknown  = 0
	roleAccepted = 1
)

// onIO reports a read or write. It runs at the deepest point of the SUT's calls, so its common
// case keeps the frames below it few and small: a few hundred bytes more can make the runtime grow
// (copy) the stack of every goroutine that makes such a call (several microseconds per request
// on the bench SUT, by its profiles; docs/go.md). The rest is in onIOSlow.
func onIO(fd int, id uint64, role uint8, write bool, p []byte, eof bool, laddr, raddr net.Addr) {
	defer discard()
	if gid.Excluded() {
		return
	}
	if role == roleAccepted && !write {
		claimSession()
	}
	if role == roleUnknown || len(p) > maxChunk || eof {
		onIOSlow(fd, id, role, write, p, eof, laddr, raddr)
		return
	}
	var ev agent.Record
	stamp(&ev, ioKind(write))
	ev.ConnId, ev.Fd, ev.SocketType = id, int32(fd), pb.SocketType_SOCKET_TYPE_STREAM
	ev.Payload, ev.PayloadLen = p, uint64(len(p)) // copied into the agent's buffer by publish
	publish(&ev)
}

func ioKind(write bool) pb.EventKind {
	if write {
		return pb.EventKind_EVENT_KIND_SEND
	}
	return pb.EventKind_EVENT_KIND_RECV
}

// claimSession makes the first goroutine to read a request from an accepted connection the root
// of a session: it and the goroutines it starts work for it.
//
//go:noinline
func claimSession() {
	if goid, _, owner := gid.Current(); owner == 0 {
		gid.SetOwner(goid)
	}
}

// onIOSlow is onIO for end of file, connections net did not see open (their addresses go with
// every event), and transfers longer than one event's payload.
//
//go:noinline
func onIOSlow(fd int, id uint64, role uint8, write bool, p []byte, eof bool, laddr, raddr net.Addr) {
	var ev agent.Record
	stamp(&ev, ioKind(write))
	ev.ConnId, ev.Fd, ev.SocketType = id, int32(fd), pb.SocketType_SOCKET_TYPE_STREAM
	if role == roleUnknown {
		ev.More = &agent.RecordMore{Local: fromAddr(laddr), Peer: fromAddr(raddr)}
	}
	for first := true; first || len(p) > 0; first = false {
		chunk := p
		if len(chunk) > maxChunk {
			chunk = chunk[:maxChunk]
		}
		p = p[len(chunk):]
		if !eof {
			ev.Payload = chunk
			ev.PayloadLen = uint64(len(chunk))
		}
		publish(&ev)
	}
}

func onDatagram(fd int, id uint64, p []byte, laddr, to net.Addr) {
	defer discard()
	if gid.Excluded() {
		return
	}
	dst := fromAddr(to)
	if agent.IsBypass(hostPort(dst)) {
		return
	}
	ev := newEvent(pb.EventKind_EVENT_KIND_DATAGRAM)
	ev.ConnId, ev.Fd, ev.SocketType = id, int32(fd), pb.SocketType_SOCKET_TYPE_DGRAM
	ev.More = &agent.RecordMore{Local: fromAddr(laddr), Peer: dst, OriginalDst: dst}
	ev.Payload, ev.PayloadLen = p, uint64(len(p))
	publish(&ev)
}

func onClose(fd int, id uint64) {
	defer discard()
	if gid.Excluded() {
		return
	}
	ev := newEvent(pb.EventKind_EVENT_KIND_CLOSE)
	ev.ConnId, ev.Fd = id, int32(fd)
	publish(&ev)
}

// onExit runs on the exiting goroutine, which did traced I/O.
func onExit(goid, owner uint64) {
	defer discard()
	_, parent, _ := gid.Current()
	publish(&agent.Record{
		TsNs:      uint64(time.Now().UnixNano()),
		Tid:       int64(goid),
		Vtid:      int64(owner),
		ParentTid: int64(parent),
		Kind:      pb.EventKind_EVENT_KIND_THREAD_EXIT,
	})
}
