package ratelimit

import "net/netip"

// IPKey is the form of a client address that limits and lockouts count
// by: an IPv4 address as is, an IPv6 address as its /64 (one host usually
// holds a whole /64, so counting by full address would give it 2^64
// fresh counters). Anything else is returned unchanged.
func IPKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
