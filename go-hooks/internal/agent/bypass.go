package agent

import (
	"net"
	"net/netip"
	"strconv"
)

// bypassSet holds "ip:port" and ":port" entries. It is immutable once built; the agent swaps a
// whole new set in when the gateway's configuration changes, so lookups take no lock.
type bypassSet struct {
	exact map[netip.AddrPort]struct{}
	ports map[uint16]struct{}
}

// newBypassSet parses entries; a host that is not an IP literal (e.g. "localhost:2517") matches
// on its port alone, which is wider but never records the gateway's own traffic.
func newBypassSet(entries ...[]string) *bypassSet {
	s := &bypassSet{exact: map[netip.AddrPort]struct{}{}, ports: map[uint16]struct{}{}}
	for _, list := range entries {
		for _, e := range list {
			host, portStr, err := net.SplitHostPort(e)
			if err != nil {
				continue
			}
			port, err := strconv.ParseUint(portStr, 10, 16)
			if err != nil {
				continue
			}
			if host == "" {
				s.ports[uint16(port)] = struct{}{}
				continue
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				s.ports[uint16(port)] = struct{}{}
				continue
			}
			s.exact[netip.AddrPortFrom(ip.Unmap(), uint16(port))] = struct{}{}
		}
	}
	return s
}

func (s *bypassSet) contains(addr string) bool {
	if s == nil || addr == "" {
		return false
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		// Not an ip:port literal: fall back to the port, if there is one.
		_, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return false
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			return false
		}
		_, ok := s.ports[uint16(port)]
		return ok
	}
	if _, ok := s.ports[ap.Port()]; ok {
		return true
	}
	_, ok := s.exact[netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())]
	return ok
}

// gatewayBypass is the gateway's own address as a bypass entry. The bypass set holds ip:port
// entries only; a unix:/// gateway is kept out of recording by the exclusion of the agent's own
// goroutines (run), which also covers the TCP form.
func gatewayBypass(addr string) []string {
	if isUnixTarget(addr) {
		return nil
	}
	return []string{addr}
}
