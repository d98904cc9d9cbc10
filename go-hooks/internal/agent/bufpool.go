package agent

import "google.golang.org/grpc/mem"

// bufferPool recycles batch buffers: gRPC returns each one when it has written it, and the next
// batch is encoded into it, so a steady stream of events allocates nothing at all.
type bufferPool struct{ free chan *[]byte }

var _ mem.BufferPool = (*bufferPool)(nil)

func newBufferPool() *bufferPool { return &bufferPool{free: make(chan *[]byte, 8)} }

// get returns an empty buffer with room for at least capHint bytes.
func (p *bufferPool) get(capHint int) []byte {
	select {
	case b := <-p.free:
		if cap(*b) >= capHint {
			return (*b)[:0]
		}
	default:
	}
	return make([]byte, 0, capHint)
}

// Get is for gRPC's use of the pool interface; koala's own buffers come from get.
func (p *bufferPool) Get(length int) *[]byte {
	b := p.get(length)[:length]
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	select {
	case p.free <- b:
	default: // enough spare buffers: let this one go
	}
}
