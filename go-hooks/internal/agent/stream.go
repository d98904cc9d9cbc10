package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

const (
	protocolVersion = 1
	agentVersion    = "koala-go-agent/0.1.0"
	backoffMin      = 50 * time.Millisecond
	backoffMax      = time.Second
	// A gateway whose assembly falls behind stops reading on purpose until it catches up; a
	// minute without taking a batch is a hung gateway (KOALA_SEND_STALL_MS).
	defaultSendStall = time.Minute
)

var errStopped = errors.New("koala: agent stopped")

func sprintf(f string, args ...any) string { return fmt.Sprintf(f, args...) }

// run keeps one stream to the gateway alive for the life of the process. Everything it starts
// (the ClientConn, grpc-go's own goroutines, the config reader) descends from this goroutine and
// so inherits its exclusion from recording.
func (a *agent) run() {
	excludeCurrent()
	defer close(a.done)
	backoff := backoffMin
	for {
		began := time.Now()
		err := a.session()
		if errors.Is(err, errStopped) {
			return
		}
		if time.Since(began) > 2*backoffMax {
			backoff = backoffMin
		}
		a.log.debugf("gateway %s: %v; retrying in %v", a.set.gatewayAddr, err, backoff)
		select {
		case <-a.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// isUnixTarget reports the opt-in unix-socket form of KOALA_AGENT_GRPC_ADDR, "unix:///abs/path".
func isUnixTarget(addr string) bool { return strings.HasPrefix(addr, "unix:") }

// dialTarget is the grpc-go target for the gateway address. "unix:///path" goes to grpc-go's
// built-in unix resolver; anything else through passthrough: the address is used as given. Neither
// starts a resolver goroutine or makes DNS traffic.
func dialTarget(addr string) string {
	if isUnixTarget(addr) {
		return addr
	}
	return "passthrough:///" + addr
}

// session runs one stream: hello, then batches until the stream or the gateway fails.
func (a *agent) session() error {
	cc, err := grpc.NewClient(dialTarget(a.set.gatewayAddr),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	stream, err := pb.NewAgentServiceClient(cc).Connect(ctx, grpc.ForceCodecV2(streamCodec{}))
	if err != nil {
		return a.stopped(err)
	}
	if err := stream.Send(&pb.AgentMessage{Body: &pb.AgentMessage_Hello{Hello: a.hello()}}); err != nil {
		return a.stopped(err)
	}
	a.log.infof("connected to gateway %s", a.set.gatewayAddr)

	recvErr := make(chan error, 1)
	go func() {
		excludeCurrent()
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErr <- err
				cancel()
				return
			}
			if c := msg.GetConfig(); c != nil {
				a.applyConfig(c)
			}
		}
	}()

	// Drops from before this stream are reported first thing after the reconnect.
	a.q.pushDropReport(uint64(time.Now().UnixNano()))
	if err := a.flush(stream, cancel); err != nil {
		return a.stopped(err)
	}
	for {
		select {
		case <-ctx.Done():
			select {
			case err := <-recvErr:
				return a.stopped(err)
			default:
				return a.stopped(ctx.Err())
			}
		case <-a.q.notify:
		}
		if !a.q.ready() {
			t := time.NewTimer(a.flushDelay())
			select {
			case <-a.q.full:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		a.q.pushDropReport(uint64(time.Now().UnixNano()))
		if err := a.flush(stream, cancel); err != nil {
			return a.stopped(err)
		}
	}
}

// flushDelay is how long a partial batch waits for more events: long while only recording.
func (a *agent) flushDelay() time.Duration {
	if a.mode() == pb.Mode_MODE_RECORD {
		return a.set.batchDelay
	}
	return flushDelay
}

type sender interface {
	SendMsg(m any) error
}

// flush sends everything queued, in batches. A batch whose send fails is counted as dropped. A
// gateway that accepts and never reads would hold a send, and with it every drop count, for as
// long as it lives: past the stall bound the stream is cancelled (abandon), the send fails, and
// the agent reconnects.
func (a *agent) flush(stream sender, abandon func()) error {
	for {
		b := a.q.take()
		if b == nil {
			return nil
		}
		stalled := time.AfterFunc(a.set.sendStall, func() {
			a.log.warnf("the gateway %s has taken nothing for %v; reconnecting (KOALA_SEND_STALL_MS)", a.set.gatewayAddr, a.set.sendStall)
			abandon()
		})
		err := stream.SendMsg(b.message(a.q.pool))
		stalled.Stop()
		if err != nil {
			a.q.countLost(b)
			return err
		}
	}
}

func (a *agent) stopped(err error) error {
	select {
	case <-a.stop:
		return errStopped
	default:
		return err
	}
}

func (a *agent) hello() *pb.AgentHello {
	host, _ := os.Hostname()
	return &pb.AgentHello{
		ProtocolVersion: protocolVersion,
		Kind:            pb.AgentKind_AGENT_KIND_GO_HOOKS,
		SutName:         a.set.sutName,
		Pid:             int32(os.Getpid()),
		Hostname:        host,
		StartNs:         a.startNs,
		Mode:            a.set.mode & a.allowed,
		AgentVersion:    agentVersion,
	}
}
