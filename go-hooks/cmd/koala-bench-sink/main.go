// Command koala-bench-sink is an AgentService that takes agents' streams and throws them away
// without decoding them. bench/overhead-cpu.ts points a recording SUT at it to measure what
// recording costs the SUT alone, apart from what the gateway costs the machine.
//
//	koala-bench-sink [-addr 127.0.0.1:0] [-dump FILE]
//
// -dump keeps every message, undecoded, for bench/assembly-cost.ts: each as an 8-byte
// little-endian float64 of milliseconds since the sink started, a 4-byte little-endian length,
// then the message's bytes.
//
// It prints "listening HOST:PORT" once ready and, on SIGTERM or SIGINT, "received MESSAGES
// messages BYTES bytes" before it exits.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

var messages, bytes atomic.Int64

// dump, when set, receives every message; dumpMu keeps concurrent streams' records whole.
var (
	dump    *bufio.Writer
	dumpMu  sync.Mutex
	started = time.Now()
)

func dumpMessage(data []byte) {
	dumpMu.Lock()
	defer dumpMu.Unlock()
	var head [12]byte
	binary.LittleEndian.PutUint64(head[:8], math.Float64bits(float64(time.Since(started).Nanoseconds())/1e6))
	binary.LittleEndian.PutUint32(head[8:], uint32(len(data)))
	_, _ = dump.Write(head[:])
	_, _ = dump.Write(data)
}

// countingCodec counts each message's bytes and leaves the message empty: decoding is the
// gateway's cost, which this sink exists to leave out.
type countingCodec struct{}

func (countingCodec) Name() string { return "proto" }

func (countingCodec) Marshal(any) (mem.BufferSlice, error) { return mem.BufferSlice{}, nil }

func (countingCodec) Unmarshal(data mem.BufferSlice, _ any) error {
	messages.Add(1)
	bytes.Add(int64(data.Len()))
	if dump != nil {
		dumpMessage(data.Materialize())
	}
	return nil
}

type sink struct {
	pb.UnimplementedAgentServiceServer
}

func (sink) Connect(stream pb.AgentService_ConnectServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			return nil
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "where to listen")
	dumpPath := flag.String("dump", "", "keep every message in this file (see the package comment)")
	flag.Parse()
	if *dumpPath != "" {
		f, err := os.Create(*dumpPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		dump = bufio.NewWriterSize(f, 1<<20)
		defer func() {
			_ = dump.Flush()
			_ = f.Close()
		}()
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer(grpc.ForceServerCodecV2(countingCodec{}))
	pb.RegisterAgentServiceServer(s, sink{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		s.Stop()
	}()
	fmt.Printf("listening %s\n", lis.Addr())
	_ = s.Serve(lis)
	fmt.Printf("received %d messages %d bytes\n", messages.Load(), bytes.Load())
}
