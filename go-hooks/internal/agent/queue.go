package agent

import (
	"sync"
	"time"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// Batch limits: a batch leaves when either is reached, or flushDelay after its first event.
const (
	batchEvents = 256
	batchBytes  = 1 << 20
	flushDelay  = 5 * time.Millisecond
	// Per-event cost beyond its payload (fields, addresses, slice slot): a rough figure so a
	// flood of empty events is bounded too.
	eventOverhead = 96
)

// queue is the agent's bounded buffer: one total order of events (seq order), bounded in bytes.
// Publish never waits on the network: beyond the bound an event is dropped and counted. A dropped
// event still consumes its seq, so the gateway also sees the loss as a gap.
type queue struct {
	mu            sync.Mutex
	events        []*pb.Event
	bytes         int
	limit         int
	nextSeq       uint64
	droppedEvents uint64
	droppedBytes  uint64

	notify chan struct{} // the queue went from empty to non-empty
	full   chan struct{} // a full batch is waiting
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, notify: make(chan struct{}, 1), full: make(chan struct{}, 1)}
}

func eventCost(ev *pb.Event) int { return len(ev.Payload) + eventOverhead }

func lostBytes(ev *pb.Event) uint64 {
	if ev.PayloadLen > uint64(len(ev.Payload)) {
		return ev.PayloadLen
	}
	return uint64(len(ev.Payload))
}

func (q *queue) push(ev *pb.Event) {
	cost := eventCost(ev)
	q.mu.Lock()
	q.nextSeq++
	ev.Seq = q.nextSeq
	if q.bytes+cost > q.limit {
		q.droppedEvents++
		q.droppedBytes += lostBytes(ev)
		q.mu.Unlock()
		return
	}
	q.events = append(q.events, ev)
	q.bytes += cost
	n, b := len(q.events), q.bytes
	q.mu.Unlock()
	if n == 1 {
		signal(q.notify)
	}
	if n >= batchEvents || b >= batchBytes {
		signal(q.full)
	}
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
	ev := &pb.Event{
		Seq:           q.nextSeq,
		TsNs:          now,
		Kind:          pb.EventKind_EVENT_KIND_DROP_REPORT,
		DroppedEvents: q.droppedEvents,
		DroppedBytes:  q.droppedBytes,
	}
	q.droppedEvents, q.droppedBytes = 0, 0
	q.events = append(q.events, ev)
	q.bytes += eventCost(ev)
	n := len(q.events)
	q.mu.Unlock()
	if n == 1 {
		signal(q.notify)
	}
	return true
}

// countLost records events that left the queue but never reached the gateway.
func (q *queue) countLost(evs []*pb.Event) {
	var n, b uint64
	for _, ev := range evs {
		if ev.Kind == pb.EventKind_EVENT_KIND_DROP_REPORT {
			// Its counts are lost with it: put them back so the next report carries them.
			n += ev.DroppedEvents
			b += ev.DroppedBytes
			continue
		}
		n++
		b += lostBytes(ev)
	}
	q.mu.Lock()
	q.droppedEvents += n
	q.droppedBytes += b
	q.mu.Unlock()
}

// take removes the next batch: at most batchEvents events and, unless a single event is larger,
// at most batchBytes bytes.
func (q *queue) take() []*pb.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, b := 0, 0
	for n < len(q.events) && n < batchEvents {
		c := eventCost(q.events[n])
		if n > 0 && b+c > batchBytes {
			break
		}
		b += c
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]*pb.Event, n)
	copy(out, q.events)
	clear(q.events[:n]) // let the sent events be collected
	q.events = q.events[n:]
	q.bytes -= b
	if len(q.events) == 0 {
		q.events = nil
	}
	return out
}

// ready reports whether a full batch is waiting, so the flusher need not linger.
func (q *queue) ready() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events) >= batchEvents || q.bytes >= batchBytes
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events)
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
