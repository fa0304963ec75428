//go:build !libpcap

package reassembly

import "github.com/gopacket/gopacket/layers"

// HaveLibpcap is true when msnsniff was built with -tags libpcap, which
// links libpcap (with cgo) for filter expressions and for live capture
// where AF_PACKET cannot be used.
const HaveLibpcap = false

// openLibpcap fails: this build has no libpcap.
func openLibpcap(string, string, bool) (liveHandle, layers.LinkType, error) {
	return nil, 0, ErrNoLibpcap
}
