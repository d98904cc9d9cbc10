// Package hooks turns the patched runtime's and net's callbacks into agent events. The work is
// in the koala_go files; without the tag Install does nothing.
package hooks

import (
	"sync/atomic"

	"github.com/koala-replay/koala/go-hooks/internal/agent"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// Helper commands, as in the C shim's helper protocol.
const (
	cmdDelegate = "to-koala!set-delegated-from-thread-id"
	cmdShutdown = "to-koala!thread-shutdown"
)

// maxChunk is the largest payload of one SEND/RECV event; longer transfers become several.
const maxChunk = 64 << 10

// sinkOverride and modeOverride let tests observe events and choose the mode without the agent.
var (
	sinkOverride     atomic.Pointer[func(*pb.Event)]
	modeOverride     atomic.Pointer[func() pb.Mode]
	outboundOverride atomic.Pointer[string]
)

func outboundAddr() string {
	if a := outboundOverride.Load(); a != nil {
		return *a
	}
	return agent.OutboundAddr()
}

// publish hands r to the agent, which copies what it needs: r and its payload stay the caller's.
func publish(r *agent.Record) {
	if f := sinkOverride.Load(); f != nil {
		publishToSink(*f, r)
		return
	}
	agent.Publish(r)
}

// publishToSink is apart so that its frame is not part of every hook's.
//
//go:noinline
func publishToSink(f func(*pb.Event), r *agent.Record) { f(r.ToEvent()) }

// AllowedMode is what this binary was built to do: the koala_recorder and koala_replayer tags,
// recorder only when neither is given.
func AllowedMode() pb.Mode {
	var m pb.Mode
	if buildRecord {
		m |= pb.Mode_MODE_RECORD
	}
	if buildReplay {
		m |= pb.Mode_MODE_REPLAY
	}
	return m
}

// mode is what the gateway asked for, never more than the binary allows.
func mode() pb.Mode {
	m := agent.Mode
	if f := modeOverride.Load(); f != nil {
		m = *f
	}
	return m() & AllowedMode()
}
