package reassembly

import (
	"encoding/binary"

	"github.com/msnsniff/msnsniff/dissect"
)

// Detection of MSNP on ports outside Options.Ports: the first TCP payload
// of a connection on another port is given to dissect.Sniff; when it
// starts with an MSNP command line, the connection is assembled from that
// segment on (its session is partial: the bytes before were not kept) and
// its server is the side Sniff names.

// maxDetected bounds the connections remembered as detected (and as
// checked and found not MSNP). Past it the oldest are forgotten: a
// forgotten MSNP connection is then only reassembled while gopacket still
// tracks it, and a forgotten other one may be sniffed again.
const maxDetected = 1 << 16

// flowKey is a connection's 4-tuple in a fixed order (lower endpoint
// first), so both directions map to one key.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
}

// detection is what is known of a connection on another port.
type detection struct {
	// checked is set once its first payload was sniffed; msnp says
	// whether it was MSNP. synSeen records a SYN seen before that, so
	// that a detected connection whose start was captured is not partial.
	checked, msnp, synSeen bool
	// serverPort and serverAddr name the server side of an MSNP one.
	serverPort uint16
	serverAddr [16]byte
}

type detector struct {
	m     map[flowKey]detection
	order []flowKey
	head  int
}

func makeFlowKey(src, dst []byte, sp, dp uint16) (k flowKey) {
	var x, y [16]byte
	copy(x[:], src)
	copy(y[:], dst)
	if string(x[:]) < string(y[:]) || (x == y && sp < dp) {
		return flowKey{x, y, sp, dp}
	}
	return flowKey{y, x, dp, sp}
}

func (d *detector) remember(k flowKey, v detection) {
	if d.m == nil {
		d.m = map[flowKey]detection{}
	}
	if _, ok := d.m[k]; !ok {
		if len(d.order) < maxDetected {
			d.order = append(d.order, k)
		} else {
			delete(d.m, d.order[d.head])
			d.order[d.head] = k
			d.head = (d.head + 1) % maxDetected
		}
	}
	d.m[k] = v
}

// detect decides whether a segment on ports outside Options.Ports belongs
// to an MSNP connection, sniffing the first payload of each connection,
// and reports whether the segment is to be assembled.
func (e *Engine) detect(src, dst, seg []byte) bool {
	if e.opt.NoDetect {
		return false
	}
	sp, dp := binary.BigEndian.Uint16(seg[0:2]), binary.BigEndian.Uint16(seg[2:4])
	k := makeFlowKey(src, dst, sp, dp)
	v, known := e.det.m[k]
	if v.checked {
		return v.msnp
	}
	payload := seg[int(seg[12]>>4)*4:]
	if len(payload) < 4 {
		// Wait for a segment with data; remember a SYN meanwhile.
		if seg[13]&0x02 != 0 && !known {
			e.det.remember(k, detection{synSeen: true})
		}
		return false
	}
	ok, fromClient := dissect.Sniff(payload)
	v = detection{checked: true, msnp: ok, synSeen: v.synSeen}
	if ok {
		// A client's line goes to the server; a server's comes from it.
		v.serverPort = dp
		copy(v.serverAddr[:], dst)
		if !fromClient {
			v.serverPort = sp
			v.serverAddr = [16]byte{}
			copy(v.serverAddr[:], src)
		}
		e.stats.Detected++
	}
	e.det.remember(k, v)
	return ok
}

// detectedServer reports, for a connection found by detection, whether the
// segment's destination is the server and whether the connection's SYN was
// seen; found is false for connections on Options.Ports.
func (e *Engine) detectedServer(src, dst []byte, sp, dp uint16) (serverIsDst, synSeen, found bool) {
	if len(e.det.m) == 0 {
		return false, false, false
	}
	v, ok := e.det.m[makeFlowKey(src, dst, sp, dp)]
	if !ok || !v.msnp {
		return false, false, false
	}
	var d [16]byte
	copy(d[:], dst)
	return v.serverPort == dp && v.serverAddr == d, v.synSeen, true
}
