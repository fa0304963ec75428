//go:build linux

package reassembly

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// The AF_PACKET ring (TPACKET_V3) of liveBufferSize bytes is made of blocks
// of liveBlockSize bytes, in which the kernel packs frames of any length. A
// block must hold a whole frame of LiveSnapLen bytes and its header, hence
// 1 MiB.
const (
	liveBlockSize = 1 << 20
	liveNumBlocks = liveBufferSize / liveBlockSize
)

// Hardware types of network devices (linux/if_arp.h) that the pure-Go
// capture decodes, as libpcap maps them to link types (map_arphrd_to_dlt in
// pcap-linux.c).
const (
	arphrdEther    = 1     // Ethernet and veth: LINKTYPE_ETHERNET
	arphrdLoopback = 772   // lo: LINKTYPE_ETHERNET with zero addresses
	arphrdNone     = 65534 // tun, WireGuard: raw IP, LINKTYPE_RAW
)

// anyDevice is libpcap's pseudo-device that captures on every interface,
// with a cooked link header that a SOCK_RAW socket does not make.
const anyDevice = "any"

// loopbackName is the device whose outgoing copies libpcap drops: it looks
// the device up by this name (lo_ifindex in pcap-linux.c).
const loopbackName = "lo"

// interfaceLinkType returns the link type of the frames an AF_PACKET
// SOCK_RAW socket reads on i, from its hardware type in sysfs.
func interfaceLinkType(i *net.Interface) (layers.LinkType, error) {
	b, err := os.ReadFile("/sys/class/net/" + i.Name + "/type")
	if err != nil {
		// No sysfs (a restricted container): Ethernet is all that can
		// be told from the interface itself.
		if i.Flags&net.FlagLoopback != 0 || len(i.HardwareAddr) == 6 {
			return layers.LinkTypeEthernet, nil
		}
		return 0, fmt.Errorf("unknown hardware type: %w", ErrLiveUnsupported)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("hardware type %q: %w", b, ErrLiveUnsupported)
	}
	switch n {
	case arphrdEther, arphrdLoopback:
		return layers.LinkTypeEthernet, nil
	case arphrdNone:
		return layers.LinkTypeRaw, nil
	}
	return 0, fmt.Errorf("hardware type %d: %w", n, ErrLiveUnsupported)
}

// openAFPacket opens a TPACKET_V3 AF_PACKET capture on the interface name
// with the kernel filter of ports attached.
func openAFPacket(name string, ports []uint16, promisc bool) (liveHandle, layers.LinkType, error) {
	if name == anyDevice {
		return nil, 0, ErrLiveUnsupported
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, 0, errors.New("no such network interface (msnsniff -D lists them)")
	}
	if ifc.Flags&net.FlagUp == 0 {
		return nil, 0, errors.New("the interface is down")
	}
	link, err := interfaceLinkType(ifc)
	if err != nil {
		return nil, 0, err
	}
	prog, err := liveFilter(link, ports, ifc.Name == loopbackName, LiveSnapLen)
	if err != nil {
		return nil, 0, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, 0, fmt.Errorf("assembling the kernel filter: %w", err)
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(name),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptBlockSize(liveBlockSize),
		afpacket.OptNumBlocks(liveNumBlocks),
		afpacket.OptPollTimeout(livePollInterval),
	)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, 0, ErrNoPrivilege
		}
		return nil, 0, fmt.Errorf("opening the packet socket: %w", err)
	}
	if err := tp.SetBPF(raw); err != nil {
		tp.Close()
		return nil, 0, fmt.Errorf("attaching the kernel filter: %w", err)
	}
	if promisc {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, 0, fmt.Errorf("setting promiscuous mode: %w", err)
		}
	}
	return afHandle{tp}, link, nil
}

// afHandle reads an AF_PACKET ring. Closing the socket takes the interface
// out of promiscuous mode again.
type afHandle struct{ tp *afpacket.TPacket }

func (h afHandle) read() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := h.tp.ZeroCopyReadPacketData()
	switch err {
	case afpacket.ErrTimeout:
		return nil, ci, errPollTimeout
	case afpacket.ErrPoll:
		// poll reports POLLERR when the device goes down or away.
		return nil, ci, fmt.Errorf("the interface went down or away (%w)", err)
	}
	return data, ci, err
}

func (h afHandle) kernelStats() (received, dropped int64, err error) {
	s, s3, err := h.tp.SocketStats()
	if err != nil {
		return 0, 0, err
	}
	// Only the counts of the TPACKET version in use are non-zero.
	return int64(s.Packets() + s3.Packets()), int64(s.Drops() + s3.Drops()), nil
}

func (h afHandle) close() { h.tp.Close() }
