// Command koala-bench-feed sends a koala-bench-sink dump (-dump FILE: messages as a Go agent sent
// them) to a gateway's AgentService, over one stream, as grpc-go sends an agent's batches: the
// messages go out as they are, never decoded. bench/gateway-feed.ts uses it to measure what the
// gateway spends per recorded session on real Go traffic, with nothing else on the machine.
//
//	koala-bench-feed -addr HOST:PORT -dump FILE [-speed 1] [-merge 1]
//
// -speed 1 keeps the recorded gaps between messages, 2 halves them, 0 sends as fast as the
// stream takes them. -merge K sends every K consecutive batches as one (sent when the last of
// them was), to see what larger agent batches
// would save the gateway. It prints "sent MESSAGES messages BYTES bytes in SECONDS s" when done.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// rawMessage is one dumped message, sent as its bytes.
type rawMessage []byte

// rawCodec sends a rawMessage as it is and drops what the gateway answers.
type rawCodec struct{}

var _ encoding.CodecV2 = rawCodec{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(rawMessage)
	if !ok {
		return nil, fmt.Errorf("koala-bench-feed: cannot send %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m)}, nil
}

func (rawCodec) Unmarshal(mem.BufferSlice, any) error { return nil }

type dumped struct {
	atMs float64
	msg  rawMessage
}

func readDump(path string) ([]dumped, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []dumped
	for off := 0; off+12 <= len(b); {
		at := math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		if off+12+n > len(b) {
			return nil, fmt.Errorf("%s: truncated message at byte %d", path, off)
		}
		out = append(out, dumped{at, rawMessage(b[off+12 : off+12+n])})
		off += 12 + n
	}
	if len(out) == 0 {
		return nil, errors.New(path + ": no messages")
	}
	return out, nil
}

func main() {
	addr := flag.String("addr", "", "the gateway's gRPC address, HOST:PORT")
	dumpPath := flag.String("dump", "", "a koala-bench-sink -dump file")
	speed := flag.Float64("speed", 1, "1 keeps the recorded pace, 0 sends as fast as possible")
	merge := flag.Int("merge", 1, "send every K consecutive batches as one")
	flag.Parse()
	if *addr == "" || *dumpPath == "" {
		fmt.Fprintln(os.Stderr, "usage: koala-bench-feed -addr HOST:PORT -dump FILE [-speed 1]")
		os.Exit(2)
	}
	msgs, err := readDump(*dumpPath)
	if err == nil && *merge > 1 {
		msgs = mergeBatches(msgs, *merge)
	}
	if err == nil {
		err = feed(*addr, msgs, *speed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "koala-bench-feed:", err)
		os.Exit(1)
	}
}

// isBatch reports whether a message is an AgentMessage{batch} (field 2, length-delimited).
func isBatch(m rawMessage) bool { return len(m) > 0 && m[0] == 0x12 }

func mergeBatches(msgs []dumped, k int) []dumped {
	var out []dumped
	var events []byte // the EventBatch bodies of the batches merged so far
	n := 0
	emit := func(atMs float64) {
		m := protowire.AppendTag(nil, 2, protowire.BytesType)
		m = protowire.AppendBytes(m, events)
		out = append(out, dumped{atMs, m})
		events, n = nil, 0
	}
	for _, m := range msgs {
		if !isBatch(m.msg) {
			out = append(out, m)
			continue
		}
		body, _ := protowire.ConsumeBytes(m.msg[1:])
		events = append(events, body...)
		if n++; n == k {
			emit(m.atMs)
		}
	}
	if n > 0 {
		emit(msgs[len(msgs)-1].atMs)
	}
	return out
}

func feed(addr string, msgs []dumped, speed float64) error {
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	stream, err := pb.NewAgentServiceClient(cc).Connect(context.Background(), grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return err
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for stream.RecvMsg(new(struct{})) == nil {
		}
	}()
	start := time.Now()
	var bytes int
	for _, m := range msgs {
		if speed > 0 {
			due := time.Duration((m.atMs - msgs[0].atMs) / speed * float64(time.Millisecond))
			if wait := due - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
		}
		if err := stream.SendMsg(m.msg); err != nil {
			return err
		}
		bytes += len(m.msg)
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	// The gateway ends the stream once it has read everything; a bound keeps a stuck one from
	// hanging the bench.
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		return errors.New("the gateway did not end the stream within 30 s of the last message")
	}
	fmt.Printf("sent %d messages %d bytes in %.3f s\n", len(msgs), bytes, time.Since(start).Seconds())
	return nil
}
