package reassembly

import "github.com/gopacket/gopacket/layers"

// States of tcpFSM.
const (
	fsmClosed = iota
	fsmSynSent
	fsmEstablished
	fsmCloseWait
	fsmLastAck
	fsmReset
)

// tcpFSM is a very simple TCP state machine that tells which control
// segments a TCP stack would refuse: the rules of gopacket's TCPSimpleFSM
// with SupportMissingEstablishment, which the Engine used before. It does
// not look at sequence numbers, and expects packets in order. dir is the
// half (true for half 1) that opened the connection or the closing.
type tcpFSM struct {
	state uint8
	dir   bool
}

// check tells whether tcp, sent by half rev (true for half 1), fits the
// state, and moves the state on.
func (t *tcpFSM) check(tcp *layers.TCP, rev bool) bool {
	if t.state == fsmClosed && !(tcp.SYN && !tcp.ACK) {
		// A connection caught after its start: guess the state.
		switch {
		case tcp.SYN && tcp.ACK:
			t.state = fsmSynSent
			t.dir = !rev
		case tcp.FIN && !tcp.ACK:
			t.state = fsmEstablished
		case tcp.FIN && tcp.ACK:
			t.state = fsmCloseWait
			t.dir = !rev
		default:
			t.state = fsmEstablished
		}
	}
	if tcp.RST && t.state != fsmClosed && t.state != fsmReset {
		t.state = fsmReset
		return true
	}
	switch t.state {
	case fsmClosed:
		if tcp.SYN && !tcp.ACK {
			t.dir = rev
			t.state = fsmSynSent
			return true
		}
	case fsmSynSent:
		if tcp.SYN && tcp.ACK && rev == !t.dir {
			t.state = fsmEstablished
			return true
		}
		if tcp.SYN && !tcp.ACK && rev == t.dir {
			return true // a retransmission
		}
	case fsmEstablished:
		if tcp.FIN {
			t.state = fsmCloseWait
			t.dir = rev
		}
		return true
	case fsmCloseWait:
		if tcp.FIN && tcp.ACK && rev == !t.dir {
			t.state = fsmLastAck
			return true
		}
		if tcp.ACK {
			return true
		}
	case fsmLastAck:
		if tcp.ACK && t.dir == rev {
			t.state = fsmClosed
			return true
		}
	}
	return false
}
