//go:build koala_go

package hooks_test

import (
	"net"
	"testing"

	"github.com/koala-replay/koala/go-hooks/internal/gid"
	"github.com/koala-replay/koala/go-hooks/internal/hooks"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

type ids struct{ goid, parent, owner uint64 }

func current() ids {
	g, p, o := gid.Current()
	return ids{g, p, o}
}

func TestOwnerIsInheritedTwoLevelsDeep(t *testing.T) {
	got := make(chan [3]ids, 1)
	go func() {
		gid.SetOwner(4242)
		root := current()
		inner := make(chan [2]ids, 1)
		go func() {
			child := current()
			go func() { inner <- [2]ids{child, current()} }()
		}()
		r := <-inner
		got <- [3]ids{root, r[0], r[1]}
	}()
	r := <-got
	root, child, grandchild := r[0], r[1], r[2]
	if root.owner != 4242 || child.owner != 4242 || grandchild.owner != 4242 {
		t.Fatalf("owners %d/%d/%d, want 4242 at every level", root.owner, child.owner, grandchild.owner)
	}
	if child.parent != root.goid || grandchild.parent != child.goid {
		t.Fatalf("parents: child %d (root %d), grandchild %d (child %d)", child.parent, root.goid, grandchild.parent, child.goid)
	}
	if root.goid == child.goid || child.goid == grandchild.goid {
		t.Fatal("goroutines share an id")
	}
	if o := current().owner; o != 0 {
		t.Fatalf("the test goroutine has owner %d; setting a child's owner must not leak upwards", o)
	}
}

func TestLaterOwnerChangeDoesNotReachRunningChildren(t *testing.T) {
	done := make(chan uint64)
	go func() {
		gid.SetOwner(7)
		started := make(chan struct{})
		release := make(chan struct{})
		go func() { close(started); <-release; done <- current().owner }()
		<-started
		gid.SetOwner(8)
		close(release)
	}()
	if o := <-done; o != 7 {
		t.Fatalf("child owner %d, want 7 (copied at go statement)", o)
	}
}

func TestExitIsReportedOnlyForGoroutinesThatDidIO(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := drainingListener(t)
	ioGoid, idleGoid := make(chan uint64, 1), make(chan uint64, 1)
	go func() {
		dialWrite(ln)
		ioGoid <- current().goid
	}()
	go func() { idleGoid <- current().goid }()
	worker, idle := <-ioGoid, <-idleGoid
	eventually(t, "THREAD_EXIT of the I/O goroutine", func() bool { return exitSent(rec, worker) })
	if exitSent(rec, idle) {
		t.Fatalf("THREAD_EXIT for goroutine %d that did no traced I/O", idle)
	}
}

// dialWrite connects to ln and writes a byte: traced I/O on the calling goroutine.
func dialWrite(ln net.Listener) {
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err == nil {
		c.Write([]byte("x"))
		c.Close()
	}
}

// exitSent reports whether rec holds a THREAD_EXIT of goroutine goid.
func exitSent(rec *hooks.Recorder, goid uint64) bool {
	for _, ev := range kindEvents(rec.Events(), pb.EventKind_EVENT_KIND_THREAD_EXIT) {
		if uint64(ev.Tid) == goid {
			return true
		}
	}
	return false
}

// A goroutine working for another's session (here its owner is set, as a go statement from a
// session root or koala.Delegate sets it) keys no session of its own, so its exit is not sent;
// one that is its own owner still reports it.
func TestExitIsNotReportedForGoroutinesWorkingForAnotherOwner(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := drainingListener(t)
	helperGoid, rootGoid := make(chan uint64, 1), make(chan uint64, 1)
	go func() {
		gid.SetOwner(987654321) // another goroutine's session
		dialWrite(ln)
		helperGoid <- current().goid
	}()
	go func() {
		gid.SetOwner(current().goid)
		dialWrite(ln)
		rootGoid <- current().goid
	}()
	helper, root := <-helperGoid, <-rootGoid
	eventually(t, "THREAD_EXIT of the goroutine that owns itself", func() bool { return exitSent(rec, root) })
	sent := false
	for _, ev := range rec.Events() {
		if uint64(ev.Tid) == helper && ev.Kind == pb.EventKind_EVENT_KIND_SEND {
			sent = true
		}
		if uint64(ev.Tid) == helper && ev.Kind == pb.EventKind_EVENT_KIND_THREAD_EXIT {
			t.Fatalf("THREAD_EXIT for goroutine %d, whose events belong to owner 987654321", helper)
		}
	}
	if !sent {
		t.Fatalf("the helper goroutine %d's write was not recorded", helper)
	}
}

func TestExcludedGoroutineAndChildrenAreNotRecorded(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := drainingListener(t)
	done := make(chan int)
	go func() {
		hooks.Exclude()
		inner := make(chan int)
		go func() {
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				inner <- 0
				return
			}
			c.Write([]byte("secret"))
			p := port(c.LocalAddr())
			c.Close()
			inner <- p
		}()
		done <- <-inner
	}()
	clientPort := <-done
	if clientPort == 0 {
		t.Fatal("dial failed")
	}
	for _, ev := range rec.Events() {
		if ev.Kind == pb.EventKind_EVENT_KIND_CONNECT && ev.OriginalDst.GetPort() == uint32(port(ln.Addr())) {
			t.Fatal("CONNECT recorded from an excluded goroutine's child")
		}
		if ev.Kind == pb.EventKind_EVENT_KIND_SEND && string(ev.Payload) == "secret" {
			t.Fatal("SEND recorded from an excluded goroutine's child")
		}
	}
	// The server side is not excluded: its accept is seen.
	eventually(t, "the server's ACCEPT", func() bool {
		for _, ev := range kindEvents(rec.Events(), pb.EventKind_EVENT_KIND_ACCEPT) {
			if ev.Peer.GetPort() == uint32(clientPort) {
				return true
			}
		}
		return false
	})
}

func TestDelegateAttributesWorkerIO(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := drainingListener(t)
	const owner = 9001
	local := make(chan int)
	go func() {
		hooks.Delegate(owner)
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			local <- 0
			return
		}
		c.Write([]byte("work"))
		local <- port(c.LocalAddr())
		c.Close()
	}()
	if <-local == 0 {
		t.Fatal("dial failed")
	}
	evs := rec.Events()
	var helper *pb.Event
	for _, ev := range kindEvents(evs, pb.EventKind_EVENT_KIND_HELPER) {
		if ev.Flags == owner {
			helper = ev
		}
	}
	if helper == nil || string(helper.Payload) != "to-koala!set-delegated-from-thread-id\n" {
		t.Fatalf("no delegate HELPER event with flags %d: %v", owner, helper)
	}
	conn := connectTo(t, evs, port(ln.Addr()))
	if conn.Vtid != owner {
		t.Fatalf("CONNECT vtid %d, want %d", conn.Vtid, owner)
	}
	for _, ev := range connEvents(evs, conn.ConnId) {
		if ev.Kind == pb.EventKind_EVENT_KIND_SEND && ev.Vtid != owner {
			t.Fatalf("SEND vtid %d, want %d", ev.Vtid, owner)
		}
	}
}

func TestShutdownSessionNamesTheOwner(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	done := make(chan struct{})
	go func() {
		gid.SetOwner(555)
		hooks.ShutdownSession()
		close(done)
	}()
	<-done
	for _, ev := range kindEvents(rec.Events(), pb.EventKind_EVENT_KIND_HELPER) {
		if ev.Flags == 555 && string(ev.Payload) == "to-koala!thread-shutdown\n" {
			return
		}
	}
	t.Fatal("no thread-shutdown HELPER with flags 555")
}
