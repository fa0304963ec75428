//go:build !linux

package reassembly

import (
	"net"

	"github.com/gopacket/gopacket/layers"
)

// interfaceLinkType reports that the pure-Go capture has nothing to offer
// outside Linux.
func interfaceLinkType(*net.Interface) (layers.LinkType, error) {
	return 0, ErrLiveUnsupported
}

// openAFPacket fails: AF_PACKET sockets exist on Linux only. With libpcap
// (-tags libpcap) OpenLive captures through libpcap instead.
func openAFPacket(string, []uint16, bool) (liveHandle, layers.LinkType, error) {
	return nil, 0, ErrLiveUnsupported
}
