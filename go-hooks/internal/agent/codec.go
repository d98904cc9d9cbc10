package agent

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// encodedMessage is an AgentMessage the queue has already encoded.
type encodedMessage struct{ data mem.BufferSlice }

// streamCodec is grpc-go's proto codec, except that an encodedMessage goes out as it is: batches
// are encoded event by event as the hooks publish them, never built as messages. It keeps the
// name "proto", so the gateway sees ordinary application/grpc+proto.
type streamCodec struct{}

var _ encoding.CodecV2 = streamCodec{}

func (streamCodec) Name() string { return "proto" }

func (streamCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case encodedMessage:
		return m.data, nil
	case proto.Message:
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	default:
		return nil, fmt.Errorf("koala: cannot encode %T", v)
	}
}

func (streamCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("koala: cannot decode into %T", v)
	}
	return proto.Unmarshal(data.Materialize(), m)
}
