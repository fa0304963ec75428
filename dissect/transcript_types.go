package dissect

import (
	"net/netip"
	"time"
)

// Transcript is a parsed MSNP transcript in the spec's "C:"/"S:" form,
// extended with directives that name the TCP connections (see
// ParseTranscript). It is what the capture generator turns into packets.
type Transcript struct {
	// Conns lists the connections in order of first appearance.
	Conns []TranscriptConn
	// Events lists the wire messages in order.
	Events []TranscriptEvent
}

// TranscriptConn is one TCP connection of a transcript.
type TranscriptConn struct {
	Client netip.AddrPort
	Server netip.AddrPort
}

// TranscriptEvent is one command as it goes on the wire.
type TranscriptEvent struct {
	// Conn indexes Transcript.Conns.
	Conn int
	// Dir says who sends it.
	Dir Dir
	// Wait is extra packet time to let pass before this event (from an
	// "@wait" directive); zero for none.
	Wait time.Duration
	// Data is the exact wire bytes: the command line with its CRLF and any
	// payload bytes that follow it.
	Data []byte
}
