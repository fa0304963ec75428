package capgen_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
)

func ExampleWrite() {
	t := &dissect.Transcript{
		Conns: []dissect.TranscriptConn{{
			Client: netip.MustParseAddrPort("192.168.0.2:50000"),
			Server: netip.MustParseAddrPort("10.0.0.1:1863"),
		}},
		Events: []dissect.TranscriptEvent{
			{Conn: 0, Dir: dissect.C2S, Data: []byte("VER 1 MSNP8 CVR0\r\n")},
			{Conn: 0, Dir: dissect.S2C, Data: []byte("VER 1 MSNP8\r\n")},
		},
	}
	var pcap bytes.Buffer
	if err := capgen.Write(&pcap, t, capgen.Options{Segment: 10}, false); err != nil {
		fmt.Println(err)
		return
	}
	pkts, _ := capgen.Packets(t, capgen.Options{Segment: 10})
	for _, p := range pkts {
		fmt.Println(p.Time.Format("15:04:05.000000"), p.OrigLen)
	}
	fmt.Println(pcap.Len(), "bytes")
	// Output:
	// 13:52:40.000000 58
	// 13:52:40.000010 58
	// 13:52:40.000020 54
	// 13:52:40.000030 64
	// 13:52:40.000040 62
	// 13:52:40.001000 64
	// 13:52:40.001010 57
	// 13:52:40.001020 54
	// 13:52:40.001030 54
	// 13:52:40.001040 54
	// 763 bytes
}
