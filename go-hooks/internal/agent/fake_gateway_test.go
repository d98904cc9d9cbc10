package agent

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// fakeGateway is a real gRPC AgentService on a loopback port that keeps what agents send.
type fakeGateway struct {
	pb.UnimplementedAgentServiceServer
	addr   string
	srv    *grpc.Server
	config *pb.AgentConfig
	stuck  atomic.Bool // while set, takes the hello and then reads nothing (a hung gateway)

	mu      sync.Mutex
	hellos  []*pb.AgentHello
	batches [][]*pb.Event
	changed chan struct{}
}

// startFakeGateway listens on addr ("127.0.0.1:0" for a fresh port).
func startFakeGateway(t *testing.T, addr string, config *pb.AgentConfig) *fakeGateway {
	t.Helper()
	var lis net.Listener
	var err error
	// The port of a gateway that just stopped can take a moment to be free again.
	for i := 0; i < 50; i++ {
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	return serveFakeGateway(t, lis, lis.Addr().String(), config)
}

// startFakeGatewayUnix listens on a unix socket at path; its addr is the agent's "unix:///path".
func startFakeGatewayUnix(t *testing.T, path string, config *pb.AgentConfig) *fakeGateway {
	t.Helper()
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen unix %s: %v", path, err)
	}
	return serveFakeGateway(t, lis, "unix://"+path, config)
}

func serveFakeGateway(t *testing.T, lis net.Listener, addr string, config *pb.AgentConfig) *fakeGateway {
	t.Helper()
	g := &fakeGateway{addr: addr, srv: grpc.NewServer(), config: config, changed: make(chan struct{}, 1)}
	pb.RegisterAgentServiceServer(g.srv, g)
	go func() { _ = g.srv.Serve(lis) }()
	t.Cleanup(g.srv.Stop)
	return g
}

func (g *fakeGateway) Connect(stream grpc.BidiStreamingServer[pb.AgentMessage, pb.GatewayMessage]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.hellos = append(g.hellos, first.GetHello())
	g.mu.Unlock()
	g.poke()
	// A stuck gateway reads nothing more until it is unstuck (or the stream ends).
	for g.stuck.Load() {
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if g.config != nil {
		if err := stream.Send(&pb.GatewayMessage{Body: &pb.GatewayMessage_Config{Config: g.config}}); err != nil {
			return err
		}
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		g.mu.Lock()
		g.batches = append(g.batches, msg.GetBatch().GetEvents())
		g.mu.Unlock()
		g.poke()
	}
}

func (g *fakeGateway) helloCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.hellos)
}

func (g *fakeGateway) poke() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

func (g *fakeGateway) events() []*pb.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*pb.Event
	for _, b := range g.batches {
		out = append(out, b...)
	}
	return out
}

// waitFor polls until cond holds or the deadline passes.
func (g *fakeGateway) waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-g.changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// testAgent starts a private agent (not the process-wide one) and stops it at cleanup.
func testAgent(t *testing.T, cfg Config, env map[string]string) *agent {
	t.Helper()
	a := newAgent(cfg, func(k string) string { return env[k] })
	a.log = newLogger(levelError, "")
	go a.run()
	t.Cleanup(func() {
		close(a.stop)
		select {
		case <-a.done:
		case <-time.After(5 * time.Second):
			t.Errorf("agent did not stop")
		}
	})
	return a
}

// freeAddr returns a loopback address nobody listens on (for "gateway absent").
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func sendEvent(a *agent, tid int64, payload []byte) {
	a.publish(&Record{Kind: pb.EventKind_EVENT_KIND_SEND, Tid: tid, ConnId: 7, Payload: payload, PayloadLen: uint64(len(payload))})
}
