package agent

import (
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// The hand-written encoder must produce what the generated code reads back as the same event,
// and byte for byte what the generated code writes (both write fields in number order).
func TestRecordEncodingMatchesGeneratedCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...uint64) uint64 { return vals[rng.IntN(len(vals))] }
	u64 := func() uint64 { return pick(0, 1, 127, 128, 300, 1<<35, math.MaxUint64, rng.Uint64()) }
	i64 := func() int64 { return int64(pick(0, 1, 1<<40, uint64(1<<63), math.MaxUint64 /* -1 */, rng.Uint64())) }
	i32 := func() int32 { return int32(pick(0, 1, 255, uint64(math.MaxUint32) /* -1 */, 1<<31)) }
	addr := func() *pb.Address {
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1:
			return &pb.Address{} // present but empty: still encoded
		case 2:
			return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_INET, Ip: []byte{127, 0, 0, 1}, Port: uint32(rng.IntN(65536))}
		case 3:
			return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_INET6, Ip: make([]byte, 16), Port: 443}
		default:
			return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_UNIX, Path: "@koala/é"}
		}
	}
	payload := func() []byte {
		n := rng.IntN(70000)
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1:
			return []byte{}
		case 2:
			return []byte("GET / HTTP/1.1\r\n\r\n")
		case 3:
			// Around the lengths where the entry's length prefix grows a byte, which the encoder
			// guesses from the payload's length alone.
			n = int(pick(0, 127, 16383, 2097151)) + rng.IntN(260) - 130
			n = max(n, 1)
			fallthrough
		default:
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}
	}
	for i := 0; i < 2000; i++ {
		r := Record{
			TsNs: u64(), Tid: i64(), Vtid: i64(), ParentTid: i64(), Kind: pb.EventKind(rng.IntN(12)),
			ConnId: u64(), Fd: i32(), SocketType: pb.SocketType(rng.IntN(3)), Payload: payload(),
			PayloadLen: u64(), seq: u64(),
		}
		if rng.IntN(3) > 0 {
			r.More = &RecordMore{Local: addr(), Peer: addr(), OriginalDst: addr(), Flags: i64(),
				ListenConnId: u64(), Errno: i32(), droppedEvents: u64(), droppedBytes: u64()}
		}
		bound := r.maxEntrySize()
		// Behind other entries, with no spare capacity: the entry must grow the buffer itself.
		prefix := []byte{0xee, 0xee, 0xee}
		got := r.appendBatchEntry(prefix[:3:3])
		if string(got[:3]) != string(prefix) {
			t.Fatalf("record %d: the entries before it changed", i)
		}
		got = got[3:]
		if size := r.eventSize(); len(got) != batchEntrySize(size) || len(got) > bound {
			t.Fatalf("record %d: entry is %d bytes, batchEntrySize says %d, maxEntrySize %d", i, len(got), batchEntrySize(size), bound)
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb.EventBatch{Events: []*pb.Event{r.ToEvent()}})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			var back pb.EventBatch
			err := proto.Unmarshal(got, &back)
			t.Fatalf("record %d: encoding differs from the generated code's (decode: %v)\n got %x\nwant %x", i, err, got, want)
		}
	}
}

// A taken batch is one AgentMessage{batch} on the wire, whatever its length prefix's size.
func TestBatchWireIsAnAgentMessage(t *testing.T) {
	for _, n := range []int{1, 3, 200, 256} {
		q := newQueue(64 << 20)
		for i := 0; i < n; i++ {
			q.push(&Record{Kind: pb.EventKind_EVENT_KIND_SEND, Tid: int64(i), Payload: make([]byte, 10*i)}) // under batchBytes in all
		}
		var msg pb.AgentMessage
		if err := proto.Unmarshal(wire(q.take()), &msg); err != nil {
			t.Fatalf("%d events: %v", n, err)
		}
		evs := msg.GetBatch().GetEvents()
		if len(evs) != n {
			t.Fatalf("%d events: decoded %d", n, len(evs))
		}
		for i, ev := range evs {
			if ev.GetSeq() != uint64(i+1) || ev.GetTid() != int64(i) || len(ev.GetPayload()) != 10*i {
				t.Fatalf("%d events: event %d = seq %d tid %d payload %d", n, i, ev.GetSeq(), ev.GetTid(), len(ev.GetPayload()))
			}
		}
	}
}

// Publishing copies the payload: the caller may reuse its buffer at once, as net's callers do.
func TestPublishCopiesThePayload(t *testing.T) {
	q := newQueue(1 << 20)
	buf := []byte("first")
	q.push(&Record{Kind: pb.EventKind_EVENT_KIND_RECV, Payload: buf})
	copy(buf, "XXXXX")
	var msg pb.AgentMessage
	if err := proto.Unmarshal(wire(q.take()), &msg); err != nil {
		t.Fatal(err)
	}
	if got := string(msg.GetBatch().GetEvents()[0].GetPayload()); got != "first" {
		t.Fatalf("payload = %q", got)
	}
}

// Recording an event must not allocate: the hooks run on every read and write of the SUT.
func TestPushDoesNotAllocate(t *testing.T) {
	q := newQueue(1 << 30)
	payload := make([]byte, 200)
	r := Record{Kind: pb.EventKind_EVENT_KIND_SEND, Tid: 5, ConnId: 9, Payload: payload, PayloadLen: 200}
	for i := 0; i < batchEvents; i++ { // the first batch's buffer grows; take it to learn its size
		q.push(&r)
	}
	q.take()
	allocs := testing.AllocsPerRun(batchEvents*4, func() {
		r := Record{Kind: pb.EventKind_EVENT_KIND_SEND, Tid: 5, ConnId: 9, Payload: payload, PayloadLen: 200}
		q.push(&r)
	})
	// One buffer and one batch header per batchEvents events.
	if allocs > 0.05 {
		t.Fatalf("push allocates %.3f times per event", allocs)
	}
}

func BenchmarkPushSend(b *testing.B) {
	q := newQueue(1 << 30)
	payload := make([]byte, 120)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := Record{TsNs: 1764100000000000000, Tid: 123456, Vtid: 123400, ParentTid: 123399,
			Kind: pb.EventKind_EVENT_KIND_SEND, ConnId: 4242, Fd: 17, SocketType: pb.SocketType_SOCKET_TYPE_STREAM,
			Payload: payload, PayloadLen: 120}
		q.push(&r)
		if i%batchEvents == batchEvents-1 {
			q.take()
		}
	}
}

// wire is a taken batch as the one encoded AgentMessage the sender would send.
func wire(b *batch) []byte { return b.buf[b.writeHeader():] }

// The sender can look while a push has made its batch but not yet filled it: it finds nothing,
// goes back to waiting, and must still be woken by that push's event (it once slept until the
// connection broke, with every later batch piling up).
func TestAnEventAddedAfterTheSenderFoundAnEmptyBatchWakesIt(t *testing.T) {
	q := newQueue(1 << 20)
	r := Record{Kind: pb.EventKind_EVENT_KIND_SEND, Payload: []byte("x")}
	// What pushSlow does before the push itself: a new, empty batch (and a first wake-up).
	q.mu.Lock()
	q.makeRoomLocked(r.maxEntrySize())
	q.mu.Unlock()
	signal(q.notify)
	<-q.notify // the sender wakes...
	if b := q.take(); b != nil {
		t.Fatalf("took a batch of %d events before any push", b.events)
	}
	// ...finds the batch empty and waits again; now the push lands in that batch.
	q.push(&r)
	select {
	case <-q.notify:
	default:
		t.Fatal("the event was queued without waking the waiting sender")
	}
	if b := q.take(); b == nil || b.events != 1 {
		t.Fatalf("the sender should find the event")
	}
}
