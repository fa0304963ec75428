//go:build libpcap

package reassembly

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// TestLiveFilterMatchesLibpcap compares the generated filter with libpcap's
// compilation of the expression it stands for, frame by frame.
func TestLiveFilterMatchesLibpcap(t *testing.T) {
	ports := []uint16{1863, 7001}
	for _, link := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw} {
		prog, err := liveFilter(link, ports, false, LiveSnapLen)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatal(err)
		}
		dlt := link
		if link == layers.LinkTypeRaw {
			dlt = linkTypeRawBSD1 // libpcap takes the DLT_RAW value, not LINKTYPE_RAW
		}
		ref, err := pcap.NewBPF(dlt, LiveSnapLen, filterExpr(ports))
		if err != nil {
			t.Fatalf("libpcap cannot compile %q: %v", filterExpr(ports), err)
		}
		for _, f := range filterFrames(t, link) {
			n, err := vm.Run(f.data)
			if err != nil {
				t.Fatal(err)
			}
			ci := gopacket.CaptureInfo{CaptureLength: len(f.data), Length: len(f.data)}
			if want := ref.Matches(ci, f.data); (n > 0) != want {
				t.Errorf("%s/%s: generated filter passes=%v, libpcap's %q passes=%v", link, f.name, n > 0, filterExpr(ports), want)
			}
		}
	}
}
