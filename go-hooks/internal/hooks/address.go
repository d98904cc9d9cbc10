package hooks

import (
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

func ipAddress(ip net.IP, port int) *pb.Address {
	if v4 := ip.To4(); v4 != nil {
		return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_INET, Ip: []byte(v4), Port: uint32(port)}
	}
	return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_INET6, Ip: append([]byte(nil), ip.To16()...), Port: uint32(port)}
}

// fromAddr converts a net address; nil for kinds koala does not report.
func fromAddr(a net.Addr) *pb.Address {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a != nil {
			return ipAddress(a.IP, a.Port)
		}
	case *net.UDPAddr:
		if a != nil {
			return ipAddress(a.IP, a.Port)
		}
	case *net.UnixAddr:
		if a != nil {
			return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_UNIX, Path: a.Name}
		}
	}
	return nil
}

func fromSockaddr(sa syscall.Sockaddr) *pb.Address {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_INET, Ip: append([]byte(nil), sa.Addr[:]...), Port: uint32(sa.Port)}
	case *syscall.SockaddrInet6:
		ip := net.IP(sa.Addr[:])
		return ipAddress(ip, sa.Port)
	case *syscall.SockaddrUnix:
		return &pb.Address{Family: pb.AddressFamily_ADDRESS_FAMILY_UNIX, Path: sa.Name}
	}
	return nil
}

// hostPort renders an IP address as "ip:port" for the bypass list; "" otherwise.
func hostPort(a *pb.Address) string {
	if a == nil || len(a.Ip) == 0 {
		return ""
	}
	ip, ok := netip.AddrFromSlice(a.Ip)
	if !ok {
		return ""
	}
	return net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(int(a.Port)))
}

// redirectSockaddr is the replay target as an address of the socket's family (an IPv4 target
// becomes v4-mapped on an IPv6 socket); nil when target is not "ip:port".
func redirectSockaddr(target string, v6 bool) syscall.Sockaddr {
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		return nil
	}
	if !v6 {
		if !ap.Addr().Unmap().Is4() {
			return nil
		}
		return &syscall.SockaddrInet4{Addr: ap.Addr().Unmap().As4(), Port: int(ap.Port())}
	}
	return &syscall.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
}

// loopbackAny is 127.0.0.1:0 in the socket's family: replay binds it before connecting so the
// replayer can tell sessions apart by source port.
func loopbackAny(v6 bool) syscall.Sockaddr {
	if !v6 {
		return &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	}
	return &syscall.SockaddrInet6{Addr: netip.AddrFrom4([4]byte{127, 0, 0, 1}).As16()}
}
