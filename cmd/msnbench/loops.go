package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The baseline loops are the only code outside reassembly/ that uses
// gopacket: they measure what reading and decoding alone cost, the limits
// msnsniff's throughput is compared with.

// loopBufferSize is the read buffer of the loops: the one msnsniff's
// reassembly.Source uses, so that they read the file the same way.
const loopBufferSize = 256 << 10

// packetReader is what pcapgo's pcap and pcapng readers have in common.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// runLoop implements "msnbench loop read|decode FILE": it prints the
// packets, bytes and (decode) TCP segments it saw.
func runLoop(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || (args[0] != "read" && args[0] != "decode") {
		fmt.Fprint(stderr, "Usage: msnbench loop read|decode FILE\n")
		return exitUsage
	}
	f, err := os.Open(args[1])
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %v\n", err)
		return exitFail
	}
	defer f.Close()
	r, err := openPackets(bufio.NewReaderSize(f, loopBufferSize))
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %s: %v\n", args[1], err)
		return exitFail
	}
	var res loopResult
	if args[0] == "read" {
		res, err = readLoop(r)
	} else {
		res, err = decodeLoop(r)
	}
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %s: %v\n", args[1], err)
		return exitFail
	}
	fmt.Fprintf(stdout, "packets %d bytes %d tcp %d\n", res.packets, res.bytes, res.tcp)
	return exitOK
}

// openPackets opens a pcap or pcapng reader, told by the magic number.
func openPackets(br *bufio.Reader) (packetReader, error) {
	magic, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(magic) == 0x0a0d0d0a {
		return pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	}
	return pcapgo.NewReader(br)
}

type loopResult struct {
	packets, bytes, tcp int64
}

// readLoop reads every packet and touches nothing but its length.
func readLoop(r packetReader) (loopResult, error) {
	var res loopResult
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.packets++
		res.bytes += int64(len(data))
	}
}

// decodeLoop reads every packet and decodes Ethernet, VLAN tags, IPv4,
// IPv6 and TCP with one DecodingLayerParser, as gopacket recommends for
// speed.
func decodeLoop(r packetReader) (loopResult, error) {
	var (
		res     loopResult
		eth     layers.Ethernet
		dot1q   layers.Dot1Q
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		payload gopacket.Payload
		decoded = make([]gopacket.LayerType, 0, 8)
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &payload)
	p.IgnoreUnsupported = true
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.packets++
		res.bytes += int64(len(data))
		// Errors are packets the loop cannot decode; counting TCP is
		// enough to keep the work from being optimised away.
		_ = p.DecodeLayers(data, &decoded)
		for _, lt := range decoded {
			if lt == layers.LayerTypeTCP {
				res.tcp++
			}
		}
	}
}
