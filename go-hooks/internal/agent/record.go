package agent

import (
	"encoding/binary"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// Record is one event as the hooks produce it. It is a value and its payload is borrowed: Publish
// encodes it straight into the agent's buffer, so recording an event allocates nothing and leaves
// nothing for the garbage collector to scan. It is small because it lives on the SUT's stack at
// the deepest point of its calls, where a larger frame makes the runtime grow (copy) more stacks.
// Field meanings are those of pb.Event.
type Record struct {
	TsNs       uint64
	Tid        int64
	Vtid       int64
	ParentTid  int64
	ConnId     uint64
	PayloadLen uint64
	Kind       pb.EventKind
	Fd         int32
	SocketType pb.SocketType
	Payload    []byte      // copied during Publish; the caller keeps ownership
	More       *RecordMore // the fields of rarer events; nil on reads and writes

	seq    uint64 // set by the queue
	q      *queue // the queue push works on (set by push, read on the system stack)
	status uint8  // what push left for its slow path
}

// RecordMore holds what only opening, helper and drop-report events carry.
type RecordMore struct {
	Local        *pb.Address
	Peer         *pb.Address
	OriginalDst  *pb.Address
	Flags        int64
	ListenConnId uint64
	Errno        int32

	droppedEvents uint64 // set by the queue
	droppedBytes  uint64
}

var noMore RecordMore

// more is r.More, or the zero fields when there are none.
func (r *Record) more() *RecordMore {
	if r.More == nil {
		return &noMore
	}
	return r.More
}

// ToEvent is the record as a pb.Event with its own copy of the payload (tests, debugging).
func (r *Record) ToEvent() *pb.Event {
	m := r.more()
	ev := &pb.Event{
		Seq: r.seq, TsNs: r.TsNs, Tid: r.Tid, Vtid: r.Vtid, Kind: r.Kind, ConnId: r.ConnId, Fd: r.Fd,
		SocketType: r.SocketType, Local: m.Local, Peer: m.Peer, OriginalDst: m.OriginalDst,
		PayloadLen: r.PayloadLen, Flags: m.Flags, DroppedEvents: m.droppedEvents,
		DroppedBytes: m.droppedBytes, ParentTid: r.ParentTid, ListenConnId: m.ListenConnId, Errno: m.Errno,
	}
	if len(r.Payload) > 0 {
		ev.Payload = append([]byte(nil), r.Payload...)
	}
	return ev
}

// The wire encoding below is pb.Event's and pb.Address's, written by hand so that no message is
// built. record_test.go checks it against the generated code field by field. proto3 leaves zero
// scalars and empty bytes out; a present sub-message is written even when empty.

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func sizeBytesField(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func addressSize(a *pb.Address) int {
	// Fields 1 to 4: one-byte tags.
	return varintFieldSize(uint64(a.Family)) +
		bytesFieldSize(2, len(a.Ip)) +
		varintFieldSize(uint64(a.Port)) +
		bytesFieldSize(4, len(a.Path))
}

func bytesFieldSize(num protowire.Number, n int) int {
	if n == 0 {
		return 0
	}
	return sizeBytesField(num, n)
}

func appendAddress(b []byte, num protowire.Number, a *pb.Address) []byte {
	if a == nil {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(addressSize(a)))
	b = appendVarintField(b, 1, uint64(a.Family))
	if len(a.Ip) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, a.Ip)
	}
	b = appendVarintField(b, 3, uint64(a.Port))
	if len(a.Path) > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, a.Path)
	}
	return b
}

func addressFieldSize(num protowire.Number, a *pb.Address) int {
	if a == nil {
		return 0
	}
	return sizeBytesField(num, addressSize(a))
}

// eventSize is the length of the record's pb.Event encoding.
func (r *Record) eventSize() int {
	n := varintFieldSize(r.seq) + varintFieldSize(r.TsNs) + varintFieldSize(uint64(r.Tid)) +
		varintFieldSize(uint64(r.Vtid)) + varintFieldSize(uint64(r.Kind)) + varintFieldSize(r.ConnId) +
		varintFieldSize(uint64(int64(r.Fd))) + varintFieldSize(uint64(r.SocketType)) +
		varintFieldSize(r.PayloadLen) + varintFieldSize(uint64(r.ParentTid))
	if len(r.Payload) > 0 {
		n += 1 + protowire.SizeBytes(len(r.Payload))
	}
	if r.ParentTid != 0 {
		n++ // field 17: a two-byte tag
	}
	if r.More != nil {
		n += r.More.size()
	}
	return n
}

func (m *RecordMore) size() int {
	n := addressFieldSize(9, m.Local) + addressFieldSize(10, m.Peer) + addressFieldSize(11, m.OriginalDst) +
		varintFieldSize(uint64(m.Flags)) + varintFieldSize(m.droppedEvents)
	// Fields 16, 18 and 19 take a two-byte tag.
	for _, v := range [...]uint64{m.droppedBytes, m.ListenConnId, uint64(int64(m.Errno))} {
		if v != 0 {
			n += 2 + protowire.SizeVarint(v)
		}
	}
	return n
}

// varintFieldSize is the size of a varint field with a one-byte tag, 0 for a zero value.
func varintFieldSize(v uint64) int {
	if v == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(v)
}

// batchEntrySize is what the record adds to a batch, as one element of EventBatch.events, given
// its eventSize().
func batchEntrySize(eventSize int) int { return sizeBytesField(1, eventSize) }

// Most bytes a read or write event (no More) takes beyond its payload: nine varint fields with
// one-byte tags (1-8, 13), field 17's two-byte tag, the payload's tag and length, each at its
// largest.
const plainEventMaxFixed = 9*(1+binary.MaxVarintLen64) + 2 + binary.MaxVarintLen64 + 1 + binary.MaxVarintLen32

// maxEntrySize bounds what appendBatchEntry adds, whatever seq the queue gives the record: the
// room the queue checks for before it assigns one.
func (r *Record) maxEntrySize() int {
	if r.More != nil {
		// Rare events: their exact size with the largest seq.
		return batchEntrySize(r.eventSize()+binary.MaxVarintLen64) + binary.MaxVarintLen64
	}
	return batchEntrySize(len(r.Payload) + plainEventMaxFixed)
}

// appendBatchEntry appends the record as field 1 (events) of an EventBatch, in the generated
// code's encoding byte for byte. It runs for every read and write of the SUT, so for those it
// writes in one pass: the fields go where a length prefix of the largest size would leave them,
// and move down the few bytes the prefix turned out shorter (rare beyond small payloads),
// instead of sizing every field first. b grows by maxEntrySize() at most.
func (r *Record) appendBatchEntry(b []byte) []byte {
	at := len(b)
	max := r.maxEntrySize()
	b = slices.Grow(b, max)[:at+max]
	if r.More != nil {
		size := r.eventSize()
		b[at] = 1<<3 | byte(protowire.BytesType)
		i := putVarint(b, at+1, uint64(size))
		return b[:r.putFields(b, i)]
	}
	guess := protowire.SizeVarint(uint64(len(r.Payload) + plainEventMaxFixed))
	body := at + 1 + guess
	end := r.putFields(b, body)
	size := end - body
	b[at] = 1<<3 | byte(protowire.BytesType)
	if n := protowire.SizeVarint(uint64(size)); n != guess {
		copy(b[at+1+n:], b[body:end])
		end -= guess - n
	}
	putVarint(b, at+1, uint64(size))
	return b[:end]
}

// putFields writes the pb.Event fields at b[i:], in field number order, and returns where they
// end. b has room for each at its largest.
func (r *Record) putFields(b []byte, i int) int {
	i = putVarintField(b, i, 1<<3, r.seq)
	i = putTimestamp(b, i, 2<<3, r.TsNs)
	i = putVarintField(b, i, 3<<3, uint64(r.Tid))
	i = putVarintField(b, i, 4<<3, uint64(r.Vtid))
	i = putVarintField(b, i, 5<<3, uint64(r.Kind))
	i = putVarintField(b, i, 6<<3, r.ConnId)
	i = putVarintField(b, i, 7<<3, uint64(int64(r.Fd)))
	i = putVarintField(b, i, 8<<3, uint64(r.SocketType))
	m := r.More
	if m != nil {
		// The general encoder: these events are rare. It appends within b's length.
		tail := appendAddress(b[:i], 9, m.Local)
		tail = appendAddress(tail, 10, m.Peer)
		i = len(appendAddress(tail, 11, m.OriginalDst))
	}
	if len(r.Payload) > 0 {
		b[i] = 12<<3 | byte(protowire.BytesType)
		i = putVarint(b, i+1, uint64(len(r.Payload)))
		i += copy(b[i:], r.Payload)
	}
	i = putVarintField(b, i, 13<<3, r.PayloadLen)
	if m != nil {
		i = putVarintField(b, i, 14<<3, uint64(m.Flags))
		i = putVarintField(b, i, 15<<3, m.droppedEvents)
		i = putVarintField2(b, i, 16<<3, m.droppedBytes)
	}
	i = putVarintField2(b, i, 17<<3, uint64(r.ParentTid))
	if m != nil {
		i = putVarintField2(b, i, 18<<3, m.ListenConnId)
		i = putVarintField2(b, i, 19<<3, uint64(int64(m.Errno)))
	}
	return i
}

func putVarint(b []byte, i int, v uint64) int {
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
	return i + 1
}

// putTimestamp is putVarintField for a nanosecond clock reading, which takes nine bytes from
// 1972 to 2262: written as one word and a byte rather than byte by byte (a loop of nine rounds
// was the most expensive field of every event).
func putTimestamp(b []byte, i int, tag byte, v uint64) int {
	if v>>56 == 0 || v>>63 != 0 {
		return putVarintField(b, i, tag, v)
	}
	a := (*[10]byte)(b[i:])
	a[0] = tag
	binary.LittleEndian.PutUint64(a[1:9], spread7(v)|0x8080808080808080)
	a[9] = byte(v >> 56)
	return i + 10
}

// spread7 puts the low 56 bits of v in eight bytes, seven to a byte: a varint's first eight
// bytes without their continuation bits.
func spread7(v uint64) uint64 {
	return v&0x7f | v<<1&(0x7f<<8) | v<<2&(0x7f<<16) | v<<3&(0x7f<<24) |
		v<<4&(0x7f<<32) | v<<5&(0x7f<<40) | v<<6&(0x7f<<48) | v<<7&(0x7f<<56)
}

// putVarintField writes a varint field whose tag fits one byte (field numbers up to 15).
func putVarintField(b []byte, i int, tag byte, v uint64) int {
	if tag >= 0x80 {
		panic("koala: field number above 15 needs putVarintField2")
	}
	if v == 0 {
		return i
	}
	b[i] = tag
	return putVarint(b, i+1, v)
}

// putVarintField2 writes a varint field with a two-byte tag (field numbers 16 to 2047); tag is
// the field number shifted left by 3, as one number.
func putVarintField2(b []byte, i int, tag uint64, v uint64) int {
	if v == 0 {
		return i
	}
	return putVarint(b, putVarint(b, i, tag), v)
}
