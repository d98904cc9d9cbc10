package overlay

// netPatches report every stream connection's accept, connect (before the syscall, so replay
// can redirect it), reads, writes and close, and every datagram sent. Zero-copy paths
// (sendfile, splice) are turned off while recording so that every byte goes through Read/Write.
var netPatches = []FilePatch{
	{File: "net/fd_posix.go", Ops: []Op{
		{Kind: After, Anchor: "import (", Text: ` koalaatomic "sync/atomic"; koalaio "io";`},
		// koalaSysfd is the descriptor as the hooks report it: written once, when the netFD is made,
		// so reading it races with nothing. pfd.Sysfd is not safe to read outside pfd's own locking:
		// a concurrent Close sets it to -1 (seen by the race detector when net/http's Server.Close
		// and a connection's own close overlap).
		{Kind: StructEnd, Anchor: "type netFD struct {", Text: "koalaID koalaatomic.Uint64; koalaRole uint8; koalaSysfd int"},
		{Kind: After, Anchor: "func (fd *netFD) Close() error {", Text: " koalaClose(fd);"},
		{Kind: After, Anchor: "n, err = fd.pfd.Read(p)", Text: "; koalaIO(fd, false, p, n, err)"},
		// A write is reported before its syscall: reported after, the peer's answer can be read
		// and reported by another goroutine first (HTTP keep-alive: readLoop vs writeLoop), and
		// the gateway would pair that answer with the previous request. pfd.Write writes all of
		// p unless the connection fails.
		{Kind: Before, Anchor: "nn, err = fd.pfd.Write(p)", Text: "koalaIO(fd, true, p, len(p), nil); "},
		{Kind: After, Anchor: "n, err = fd.pfd.WriteTo(p, sa)", Text: "; koalaDatagram(fd, p, n, sa)"},
		{Kind: After, Anchor: "n, err = fd.pfd.WriteToInet4(p, sa)", Text: "; koalaDatagram4(fd, p, n, sa)"},
		{Kind: After, Anchor: "n, err = fd.pfd.WriteToInet6(p, sa)", Text: "; koalaDatagram6(fd, p, n, sa)"},
		{Kind: After, Anchor: "n, oobn, err = fd.pfd.WriteMsg(p, oob, sa)", Text: "; koalaDatagram(fd, p, n, sa)"},
		{Kind: After, Anchor: "n, oobn, err = fd.pfd.WriteMsgInet4(p, oob, sa)", Text: "; koalaDatagram4(fd, p, n, sa)"},
		{Kind: After, Anchor: "n, oobn, err = fd.pfd.WriteMsgInet6(p, oob, sa)", Text: "; koalaDatagram6(fd, p, n, sa)"},
		{Kind: Append, Text: netHooksText},
	}},
	{File: "net/fd_unix.go", Ops: []Op{
		// In newFD's netFD literal (its first line differs between Go versions).
		{Kind: After, Anchor: "family: family,", Text: " koalaSysfd: sysfd,"},
		{Kind: Before, Anchor: "switch err := connectFunc(fd.pfd.Sysfd, ra); err {", Text: "ra = koalaConnect(fd, ra); "},
		{Kind: After, Anchor: "netfd.setAddr(netfd.addrFunc()(lsa), netfd.addrFunc()(rsa))", Text: "; koalaAccept(fd, netfd)"},
	}},
	{File: "net/writev_unix.go", Ops: []Op{
		// Reported before the syscall, like Write.
		{Kind: Before, Anchor: "n, err = fd.pfd.Writev((*[][]byte)(v))", Text: "koalaWritev(fd, koalaSnapshot(v), 1<<62); "},
	}},
	{File: "net/tcpsock_posix.go", Ops: []Op{
		{Kind: Before, Anchor: "if n, err, handled := spliceFrom(c.fd, r); handled {", Text: "if koalaRecording() { return genericReadFrom(c, r) }; "},
		{Kind: Before, Anchor: "if n, err, handled := spliceTo(w, c.fd); handled {", Text: "if koalaRecording() { return genericWriteTo(c, w) }; "},
	}},
	// os uses PollFD to sendfile/splice between files and sockets; nil makes it copy instead.
	{File: "net/rawconn.go", Ops: []Op{
		{Kind: After, Anchor: "func (c *rawConn) PollFD() *poll.FD {", Text: " if koalaRecording() { return nil };"},
	}},
}

const netHooksText = `
// KoalaHooks receives the socket events of a koala_go build; go-hooks installs it.
// Every function must be set; none may block.
type KoalaHooks struct {
	// Recording reports whether bytes are being recorded (zero-copy paths are then avoided).
	Recording func() bool
	// Connect runs before connect(2). It returns the address to connect to instead (nil: ra)
	// and whether the connection is never to be reported again.
	Connect func(fd, sotype int, id uint64, ra syscall.Sockaddr) (syscall.Sockaddr, bool)
	// Accept runs once an accepted connection's addresses are known; true ignores it.
	Accept func(fd int, id, listenID uint64, laddr, raddr Addr) bool
	// IO reports bytes read or written on a stream (p is the caller's buffer: copy it).
	// role: 1 accepted, 2 dialed, 0 not seen opening. eof: a read returned io.EOF.
	IO func(fd int, id uint64, role uint8, write bool, p []byte, eof bool, laddr, raddr Addr)
	// Datagram reports a datagram sent to "to".
	Datagram func(fd int, id uint64, p []byte, laddr, to Addr)
	// Close reports that the application closed the connection.
	Close func(fd int, id uint64)
}

var (
	koalaHooks  koalaatomic.Pointer[KoalaHooks]
	koalaNextID koalaatomic.Uint64
)

// koalaIgnored as a connection id marks a connection that is never reported.
const koalaIgnored = ^uint64(0)

// SetKoalaHooks installs h (nil uninstalls).
func SetKoalaHooks(h *KoalaHooks) { koalaHooks.Store(h) }

// KoalaConnID returns the koala connection id and descriptor of c (0, -1 if c is not a net socket).
func KoalaConnID(c Conn) (id uint64, fd int) {
	x, ok := c.(interface{ koalaFD() *netFD })
	if !ok || x.koalaFD() == nil {
		return 0, -1
	}
	nfd := x.koalaFD()
	return nfd.koalaConnID(), nfd.koalaSysfd
}

func (c *conn) koalaFD() *netFD {
	if !c.ok() {
		return nil
	}
	return c.fd
}

func koalaRecording() bool {
	h := koalaHooks.Load()
	return h != nil && h.Recording()
}

// koalaConnID gives connections not seen opening (inherited, from files) an id on first use.
func (fd *netFD) koalaConnID() uint64 {
	if id := fd.koalaID.Load(); id != 0 {
		return id
	}
	fd.koalaID.CompareAndSwap(0, koalaNextID.Add(1))
	return fd.koalaID.Load()
}

func koalaConnect(fd *netFD, ra syscall.Sockaddr) syscall.Sockaddr {
	fd.koalaRole = 2
	h := koalaHooks.Load()
	if h == nil {
		return ra
	}
	nra, ignore := h.Connect(fd.koalaSysfd, fd.sotype, fd.koalaConnID(), ra)
	if ignore {
		fd.koalaID.Store(koalaIgnored)
	}
	if nra != nil {
		return nra
	}
	return ra
}

func koalaAccept(lfd, fd *netFD) {
	fd.koalaRole = 1
	h := koalaHooks.Load()
	if h == nil {
		return
	}
	if h.Accept(fd.koalaSysfd, fd.koalaConnID(), lfd.koalaConnID(), fd.laddr, fd.raddr) {
		fd.koalaID.Store(koalaIgnored)
	}
}

func koalaIO(fd *netFD, write bool, p []byte, n int, err error) {
	eof := !write && n == 0 && err == koalaio.EOF
	if n <= 0 && !eof {
		return
	}
	h := koalaHooks.Load()
	if h == nil {
		return
	}
	id := fd.koalaConnID()
	if id == koalaIgnored {
		return
	}
	if fd.sotype != syscall.SOCK_STREAM {
		if write {
			h.Datagram(fd.koalaSysfd, id, p[:n], fd.laddr, fd.raddr)
		}
		return
	}
	h.IO(fd.koalaSysfd, id, fd.koalaRole, write, p[:n], eof, fd.laddr, fd.raddr)
}

func koalaClose(fd *netFD) {
	id := fd.koalaID.Swap(koalaIgnored)
	if id == 0 || id == koalaIgnored {
		return
	}
	if h := koalaHooks.Load(); h != nil {
		h.Close(fd.koalaSysfd, id)
	}
}

func koalaDatagram(fd *netFD, p []byte, n int, sa syscall.Sockaddr) {
	if fd.sotype == syscall.SOCK_STREAM {
		koalaIO(fd, true, p, n, nil)
		return
	}
	h := koalaHooks.Load()
	if h == nil || n < 0 {
		return
	}
	id := fd.koalaConnID()
	if id == koalaIgnored {
		return
	}
	to := fd.raddr
	if sa != nil {
		to = fd.addrFunc()(sa)
	}
	h.Datagram(fd.koalaSysfd, id, p[:n], fd.laddr, to)
}

func koalaDatagram4(fd *netFD, p []byte, n int, sa *syscall.SockaddrInet4) {
	var s syscall.Sockaddr
	if sa != nil {
		s = sa
	}
	koalaDatagram(fd, p, n, s)
}

func koalaDatagram6(fd *netFD, p []byte, n int, sa *syscall.SockaddrInet6) {
	var s syscall.Sockaddr
	if sa != nil {
		s = sa
	}
	koalaDatagram(fd, p, n, s)
}

// koalaSnapshot keeps the buffers writev consumes, so the bytes written can be reported.
func koalaSnapshot(v *Buffers) [][]byte {
	if koalaHooks.Load() == nil {
		return nil
	}
	return append([][]byte(nil), (*v)...)
}

func koalaWritev(fd *netFD, bufs [][]byte, n int64) {
	for _, b := range bufs {
		if n <= 0 {
			return
		}
		if int64(len(b)) > n {
			b = b[:n]
		}
		koalaIO(fd, true, b, len(b), nil)
		n -= int64(len(b))
	}
}
`

// httpPatches give a pooled HTTP/1 client connection's read and write loops the owner of the
// request in flight, so keep-alive traffic is attributed to the request that caused it.
var httpPatches = []FilePatch{
	{File: "net/http/transport.go", Ops: []Op{
		{Kind: After, Anchor: "import (", Text: ` koalaruntime "runtime"; koalaatomic "sync/atomic";`},
		// First field: 64-bit aligned on 32-bit platforms, as atomics need.
		{Kind: After, Anchor: "type persistConn struct {", Text: " koalaOwner uint64;"},
		{Kind: After, Anchor: "func (pc *persistConn) roundTrip(req *transportRequest) (resp *Response, err error) {", Text: " koalaStoreOwner(pc);"},
		{Kind: After, Anchor: "func (pc *persistConn) readLoop() {", Text: " koalaruntime.KoalaSetOwnerCell(&pc.koalaOwner);"},
		{Kind: After, Anchor: "func (pc *persistConn) writeLoop() {", Text: " koalaruntime.KoalaSetOwnerCell(&pc.koalaOwner);"},
		{Kind: Append, Text: `
// koalaStoreOwner makes the connection's loops work for the goroutine sending this request.
func koalaStoreOwner(pc *persistConn) {
	goid, _, owner := koalaruntime.KoalaIDs()
	if owner == 0 {
		owner = goid
	}
	koalaatomic.StoreUint64(&pc.koalaOwner, owner)
}
`},
	}},
}
