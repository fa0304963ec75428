//go:build libpcap

package reassembly

import (
	"errors"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// HaveLibpcap is true when msnsniff was built with -tags libpcap, which
// links libpcap (with cgo) for filter expressions and for live capture
// where AF_PACKET cannot be used.
const HaveLibpcap = true

// gopacket's pcap reports pcap_activate's PCAP_ERROR_PERM_DENIED with an
// unexported error value whose message is this.
const pcapPermissionDenied = "Permission Denied"

// openLibpcap opens a libpcap capture on the interface name with the
// filter expression expr compiled by libpcap.
func openLibpcap(name, expr string, promisc bool) (liveHandle, layers.LinkType, error) {
	in, err := pcap.NewInactiveHandle(name)
	if err != nil {
		return nil, 0, fmt.Errorf("libpcap: %w", err)
	}
	defer in.CleanUp()
	for _, err := range []error{
		in.SetSnapLen(LiveSnapLen),
		in.SetPromisc(promisc),
		in.SetTimeout(livePollInterval),
		in.SetBufferSize(liveBufferSize),
		// Not immediate mode: on Linux it makes libpcap use a ring of
		// frames of LiveSnapLen bytes each, which overflows at once.
		// Packets come within livePollInterval all the same.
	} {
		if err != nil {
			return nil, 0, fmt.Errorf("libpcap: %w", err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		if err.Error() == pcapPermissionDenied {
			return nil, 0, ErrNoPrivilege
		}
		return nil, 0, fmt.Errorf("libpcap: %w", err)
	}
	if err := h.SetBPFFilter(expr); err != nil {
		h.Close()
		return nil, 0, fmt.Errorf("filter %q: %w", expr, err)
	}
	return pcapHandle{h}, h.LinkType(), nil
}

// pcapHandle reads a libpcap capture.
type pcapHandle struct{ h *pcap.Handle }

func (h pcapHandle) read() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := h.h.ZeroCopyReadPacketData()
	if errors.Is(err, pcap.NextErrorTimeoutExpired) {
		return nil, ci, errPollTimeout
	}
	return data, ci, err
}

func (h pcapHandle) kernelStats() (received, dropped int64, err error) {
	st, err := h.h.Stats()
	if err != nil {
		return 0, 0, err
	}
	return int64(st.PacketsReceived), int64(st.PacketsDropped), nil
}

func (h pcapHandle) close() { h.h.Close() }
