// Package agent carries the Go hooks' events to the gateway over the gRPC stream
// AgentService.Connect, and holds what the gateway configured (mode, outbound address, bypass).
//
// It is fail-open: Start never blocks, Publish never waits on the network, and a gateway that is
// absent, slow or gone costs the SUT dropped (counted) events, never a failure.
package agent

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// Config is what the binary was built for and where the gateway is. Empty fields take the
// environment's value (KOALA_SUT_NAME, KOALA_AGENT_GRPC_ADDR).
type Config struct {
	SUTName     string
	Mode        pb.Mode // what the binary allows (record/replay bits); 0 allows both
	GatewayAddr string
}

// agent is one connection's worth of state; the package functions use one process-wide agent.
// Tests build their own.
type agent struct {
	set     settings
	allowed pb.Mode
	startNs uint64
	log     *logger
	q       *queue

	wantMode atomic.Int32              // what the gateway (or KOALA_MODE) asks for
	outbound atomic.Pointer[string]    // gateway's outbound_addr, when it sent one
	bypass   atomic.Pointer[bypassSet] // env + gateway config + the gateway itself
	stop     chan struct{}             // closed by tests to end the run loop
	done     chan struct{}             // closed when the run loop has ended
}

var (
	startOnce sync.Once
	global    atomic.Pointer[agent]
)

// Start connects to the gateway in the background. It never blocks and never fails the SUT;
// calls after the first do nothing.
func Start(cfg Config) {
	startOnce.Do(func() {
		a := newAgent(cfg, os.Getenv)
		global.Store(a)
		go a.run()
	})
}

// Publish hands one event to the agent without blocking. The agent assigns its seq and encodes it
// at once: r and its payload are not retained. Beyond the buffer bound the event is dropped and
// counted. Before Start, events are discarded.
func Publish(r *Record) {
	if a := global.Load(); a != nil {
		a.q.push(r)
	}
}

// Mode is what the gateway asked for (KOALA_MODE until it says), masked by what the binary allows.
func Mode() pb.Mode {
	if a := global.Load(); a != nil {
		return a.mode()
	}
	return pb.Mode_MODE_UNSPECIFIED
}

// OutboundAddr is the replay redirect target "host:port": KOALA_OUTBOUND_ADDR when set, else the
// gateway's configuration, else 127.0.0.1:2516.
func OutboundAddr() string {
	if a := global.Load(); a != nil {
		return a.outboundAddr()
	}
	if v := os.Getenv("KOALA_OUTBOUND_ADDR"); v != "" {
		return v
	}
	return defaultOutboundAddr
}

// IsBypass reports whether "ip:port" is never to be recorded nor redirected: an entry of
// KOALA_OUTBOUND_BYPASS_ADDR or of the gateway's bypass list ("ip:port" or ":port"), or the
// gateway's own address.
func IsBypass(addr string) bool {
	if a := global.Load(); a != nil {
		return a.bypass.Load().contains(addr)
	}
	return false
}

func newAgent(cfg Config, getenv func(string) string) *agent {
	var warnings []string
	set := loadSettings(getenv, func(f string, args ...any) {
		warnings = append(warnings, sprintf(f, args...))
	})
	if cfg.SUTName != "" {
		set.sutName = cfg.SUTName
	}
	if cfg.GatewayAddr != "" {
		set.gatewayAddr = cfg.GatewayAddr
	}
	a := &agent{
		set:     set,
		allowed: cfg.Mode,
		startNs: uint64(time.Now().UnixNano()),
		log:     newLogger(set.logLevel, set.logFile),
		q:       newQueue(set.bufferSize),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if a.allowed == pb.Mode_MODE_UNSPECIFIED {
		a.allowed = pb.Mode_MODE_RECORD_AND_REPLAY
	}
	for _, w := range warnings {
		a.log.warnf("%s", w)
	}
	a.wantMode.Store(int32(set.mode))
	a.bypass.Store(newBypassSet(set.bypass, gatewayBypass(set.gatewayAddr)))
	return a
}

// publish is Publish to this agent (tests).
func (a *agent) publish(r *Record) { a.q.push(r) }

func (a *agent) mode() pb.Mode { return pb.Mode(a.wantMode.Load()) & a.allowed }

func (a *agent) outboundAddr() string {
	if a.set.outboundAddr != "" {
		return a.set.outboundAddr
	}
	if p := a.outbound.Load(); p != nil && *p != "" {
		return *p
	}
	return defaultOutboundAddr
}

// applyConfig takes the gateway's configuration: a mode of 0 leaves KOALA_MODE's choice.
func (a *agent) applyConfig(c *pb.AgentConfig) {
	if c.GetMode() != pb.Mode_MODE_UNSPECIFIED {
		a.wantMode.Store(int32(c.GetMode()))
	}
	out := c.GetOutboundAddr()
	a.outbound.Store(&out)
	a.bypass.Store(newBypassSet(a.set.bypass, c.GetBypassAddrs(), gatewayBypass(a.set.gatewayAddr)))
	a.log.infof("gateway %q config: mode=%v (effective %v) outbound=%q bypass=%v",
		c.GetGatewayId(), c.GetMode(), a.mode(), a.outboundAddr(), c.GetBypassAddrs())
}
