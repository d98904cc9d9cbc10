package agent

import (
	"slices"
	"time"
	"unsafe"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// Batch limits: a batch leaves when either is reached, or the flush delay after its first event
// (recordFlushDelay, or KOALA_BATCH_DELAY_MS, while only recording, else flushDelay).
//
// Recording alone needs no promptness, and a gateway pays for every batch it wakes up for, more
// than for the events in it: fed the same Go traffic (~4,800 requests/s) in batches of ~250 events,
// one every 3 ms, a warm gateway spent 105-109 us of CPU per session; in batches 5 times larger,
// 94; 25 times larger (80 ms apart), 79 (bench/gateway-feed.ts). Replay waits on the events of
// each request, so it keeps the short delay.
const (
	batchEvents      = 8192
	batchBytes       = 1 << 20
	flushDelay       = 5 * time.Millisecond
	recordFlushDelay = 100 * time.Millisecond
	// Per-event cost beyond its payload (fields, addresses): a rough figure so a flood of empty
	// events is bounded too.
	eventOverhead = 96
	// Room kept at the front of every batch buffer for the AgentMessage.batch tag and length, so
	// sending a batch never copies it: 1 tag byte and up to 5 length bytes.
	batchHeaderRoom = 6
)

// batch is one AgentMessage{batch} under construction: the encoded EventBatch entries, preceded
// by batchHeaderRoom spare bytes. Buffers hold no pointers, so queued events cost the garbage
// collector nothing however many there are.
type batch struct {
	buf    []byte
	events int
	// What losing this batch loses: its events (and the counts of the drop reports it carries),
	// and their bytes.
	lostEvents uint64
	lostBytes  uint64
	charged    int // what the batch counts against the bound: see eventCost
}

// writeHeader fills the AgentMessage.batch tag and length in front of the entries and returns
// where the message starts.
func (b *batch) writeHeader() int {
	n := len(b.buf) - batchHeaderRoom
	start := batchHeaderRoom - protowire.SizeTag(2) - protowire.SizeVarint(uint64(n))
	h := protowire.AppendTag(b.buf[start:start], 2, protowire.BytesType)
	protowire.AppendVarint(h, uint64(n))
	return start
}

// message is the batch as one encoded AgentMessage whose buffer goes back to pool once gRPC has
// written it. The batch is spent afterwards.
func (b *batch) message(pool mem.BufferPool) encodedMessage {
	start := b.writeHeader()
	whole := mem.NewBuffer(&b.buf, pool)
	head, msg := mem.SplitUnsafe(whole, start)
	head.Free()
	return encodedMessage{mem.BufferSlice{msg}}
}

// queue is the agent's bounded buffer: one total order of events (seq order), bounded in bytes.
// Publish never waits on the network: beyond the bound an event is dropped and counted. A dropped
// event still consumes its seq, so the gateway also sees the loss as a gap.
type queue struct {
	mu            queueLock
	sealed        []*batch // full batches, oldest first
	cur           *batch   // the batch being filled, nil when nothing is queued
	bytes         int
	limit         int
	nextSeq       uint64
	droppedEvents uint64
	droppedBytes  uint64
	lastSize      int // size of the last batch taken: the next one starts with that capacity
	pool          *bufferPool
	// The sender found nothing to take and waits for notify. The next event pushed wakes it.
	// "Empty" is not enough: a push makes its batch before it fills it, so the sender can find an
	// empty batch, go back to waiting, and miss that batch's events being added; it then slept
	// until the connection broke while every later batch piled up (seen in the agent tests).
	senderIdle bool

	notify chan struct{} // the queue went from empty to non-empty
	full   chan struct{} // a full batch is waiting
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, pool: newBufferPool(), notify: make(chan struct{}, 1), full: make(chan struct{}, 1), senderIdle: true}
}

func eventCost(r *Record) int { return len(r.Payload) + eventOverhead }

func lostBytes(r *Record) uint64 {
	if r.PayloadLen > uint64(len(r.Payload)) {
		return r.PayloadLen
	}
	return uint64(len(r.Payload))
}

// Status bits the system-stack part of push leaves for its user-stack part.
const (
	statusNeedRoom uint8 = 1 << iota // the current batch cannot take the event: nothing was done
	statusFull                       // the event filled the current batch: seal it
	statusNotify                     // the sender waits for an event: wake it
)

// push assigns r its seq (and TsNs when zero) and encodes it into the current batch, or drops
// and counts it beyond the bound. r is not retained. It runs on every read and write of the SUT,
// at the bottom of its stack, so the work is done on the system stack (pushOnSystemStack); what
// may block or allocate (a new batch, waking the sender) is left to the rare pushSlow.
func (q *queue) push(r *Record) {
	if r.TsNs == 0 {
		r.TsNs = uint64(time.Now().UnixNano())
	}
	r.q = q
	onSystemStack(pushOnSystemStack, unsafe.Pointer(r))
	if r.status != 0 {
		q.pushSlow(r)
	}
}

// pushOnSystemStack is push's work. It may run on the system stack: it must not block, allocate
// or panic, and takes no lock but q.mu (a runtime mutex there).
func pushOnSystemStack(p unsafe.Pointer) {
	r := (*Record)(p)
	q := r.q
	r.status = 0
	cost := eventCost(r)
	q.mu.Lock()
	if q.bytes+cost > q.limit {
		q.nextSeq++
		r.seq = q.nextSeq
		q.droppedEvents++
		q.droppedBytes += lostBytes(r)
		q.mu.Unlock()
		return
	}
	r.seq = q.nextSeq + 1
	entry := r.maxEntrySize()
	b := q.cur
	if b == nil || b.events >= batchEvents || len(b.buf)+entry > batchHeaderRoom+batchBytes || cap(b.buf)-len(b.buf) < entry {
		r.status = statusNeedRoom
		q.mu.Unlock()
		return
	}
	q.nextSeq++
	b.buf = r.appendBatchEntry(b.buf) // within capacity: no allocation
	b.add(1, lostBytes(r), cost)
	q.bytes += cost
	if b.events >= batchEvents {
		r.status = statusFull
	}
	if q.senderIdle {
		q.senderIdle = false
		r.status |= statusNotify
	}
	q.mu.Unlock()
}

// pushSlow makes room for r (a new batch, or a larger buffer) and pushes it again, and seals a
// full batch; then it wakes the sender. Apart from push so its frame is not on every event's.
//
//go:noinline
func (q *queue) pushSlow(r *Record) {
	for r.status&statusNeedRoom != 0 {
		entry := r.maxEntrySize()
		q.mu.Lock()
		first, sealed := q.makeRoomLocked(entry)
		q.mu.Unlock()
		if first {
			signal(q.notify)
		}
		if sealed {
			signal(q.full)
		}
		onSystemStack(pushOnSystemStack, unsafe.Pointer(r))
	}
	if r.status&statusFull != 0 {
		q.mu.Lock()
		full := q.sealFullLocked()
		q.mu.Unlock()
		if full {
			signal(q.full)
		}
	}
	if r.status&statusNotify != 0 {
		signal(q.notify)
	}
}

// makeRoomLocked makes the current batch able to take an entry of entry bytes: a larger buffer
// while the batch is within its limits, else a new batch (sealing the current one). It reports
// whether the queue was empty and whether it sealed a batch: either way the sender is to be woken.
func (q *queue) makeRoomLocked(entry int) (first, sealed bool) {
	b := q.cur
	if b != nil && b.events < batchEvents && len(b.buf)+entry <= batchHeaderRoom+batchBytes {
		if cap(b.buf)-len(b.buf) < entry {
			b.buf = slices.Grow(b.buf, max(entry, cap(b.buf)))
		}
		return false, false
	}
	first = b == nil && len(q.sealed) == 0
	if b != nil && b.events > 0 {
		q.sealed = append(q.sealed, b)
		sealed = true
	}
	q.cur = &batch{buf: q.pool.get(max(q.lastSize, batchHeaderRoom+entry))[:batchHeaderRoom]}
	return first, sealed
}

func (b *batch) add(lostEvents, lostBytes uint64, cost int) {
	b.events++
	b.lostEvents += lostEvents
	b.lostBytes += lostBytes
	b.charged += cost
}

// pushDropReport appends a DROP_REPORT carrying the drops since the last report, if any. It is
// exempt from the bound: it is small, and losing it would make the loss silent.
func (q *queue) pushDropReport(now uint64) bool {
	q.mu.Lock()
	if q.droppedEvents == 0 {
		q.mu.Unlock()
		return false
	}
	q.nextSeq++
	m := &RecordMore{droppedEvents: q.droppedEvents, droppedBytes: q.droppedBytes}
	r := Record{TsNs: now, Kind: pb.EventKind_EVENT_KIND_DROP_REPORT, seq: q.nextSeq, More: m}
	q.droppedEvents, q.droppedBytes = 0, 0
	first, sealed := q.makeRoomLocked(r.maxEntrySize())
	b := q.cur
	b.buf = r.appendBatchEntry(b.buf)
	// Its counts are lost with it if its batch is: they go back to the counters then.
	b.add(m.droppedEvents, m.droppedBytes, eventCost(&r))
	q.bytes += eventCost(&r)
	full := q.sealFullLocked()
	q.mu.Unlock()
	if first {
		signal(q.notify)
	}
	if sealed || full {
		signal(q.full)
	}
	return true
}

// sealFullLocked seals the current batch if it holds batchEvents events.
func (q *queue) sealFullLocked() bool {
	if q.cur == nil || q.cur.events < batchEvents {
		return false
	}
	q.sealed = append(q.sealed, q.cur)
	q.cur = nil
	return true
}

// countLost records a batch that left the queue but never reached the gateway.
func (q *queue) countLost(b *batch) {
	q.mu.Lock()
	q.droppedEvents += b.lostEvents
	q.droppedBytes += b.lostBytes
	q.mu.Unlock()
}

// take removes the oldest batch, nil when nothing is queued.
func (q *queue) take() *batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	var b *batch
	switch {
	case len(q.sealed) > 0:
		b = q.sealed[0]
		q.sealed[0] = nil
		q.sealed = q.sealed[1:]
		if len(q.sealed) == 0 {
			q.sealed = nil
		}
	case q.cur != nil && q.cur.events > 0:
		// (A batch with none yet was just made for a push that is about to fill it.)
		b, q.cur = q.cur, nil
	default:
		q.senderIdle = true
		return nil
	}
	q.bytes -= b.charged
	q.lastSize = len(b.buf)
	return b
}

// ready reports whether a full batch is waiting, so the flusher need not linger.
func (q *queue) ready() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.sealed) > 0
}

func (q *queue) drops() (events, bytes uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.droppedEvents, q.droppedBytes
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
