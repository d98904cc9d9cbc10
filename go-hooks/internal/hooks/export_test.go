package hooks

import (
	"sync"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// Recorder collects the events published while it is installed.
type Recorder struct {
	mu     sync.Mutex
	events []*pb.Event
}

// Capture routes events to a new Recorder instead of the agent until the returned func runs.
func Capture() (*Recorder, func()) {
	r := &Recorder{}
	f := func(ev *pb.Event) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
	}
	sinkOverride.Store(&f)
	return r, func() { sinkOverride.Store(nil) }
}

// Events returns a snapshot of the events so far.
func (r *Recorder) Events() []*pb.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*pb.Event(nil), r.events...)
}

// SetMode makes the gateway's requested mode m (masked by the build as usual).
func SetMode(m pb.Mode) {
	f := func() pb.Mode { return m }
	modeOverride.Store(&f)
}

// SetOutbound sets the replay redirect target.
func SetOutbound(addr string) { outboundOverride.Store(&addr) }
