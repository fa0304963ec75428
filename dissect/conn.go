package dissect

import (
	"net/netip"
	"time"
)

// ConnInfo describes the TCP connection a Session is opened for. The
// reassembly layer fills it in from the first packet it sees.
type ConnInfo struct {
	// Client and Server are the two endpoints; the server is the side
	// listening on an MSNP port (or judged so by content).
	Client netip.AddrPort
	Server netip.AddrPort
	// Start is the packet time of the first packet of the connection
	// (package reassembly gives its clock's time instead when that
	// packet's own time is a lone jump, a damaged timestamp).
	Start time.Time
	// SYN is true when the connection's handshake was captured, false when
	// the capture starts in the middle of it.
	SYN bool
	// File and Packet locate the first packet: the capture file's name and
	// its 1-based packet number within that file.
	File   string
	Packet int64
	// DetectedBy says how the connection was recognised as MSNP: "port" or
	// "content".
	DetectedBy string
	// Transport is "tcp" (the default when empty) or "http-gateway" for
	// MSNP tunnelled through the HTTP gateway (msnp-grammar.md §14); then
	// Client and Server are those of the first HTTP connection.
	Transport string
	// Target is the MSNP server a gateway session was opened for (the IP
	// parameter of Action=open), the zero value otherwise. A referral
	// (XFR) to it is linked to the session as to a direct connection.
	Target netip.AddrPort
}

// NoteHTTPConnection records a TCP connection (as "client -> server")
// that carried part of an HTTP-gateway session. A connection listed
// already is ignored; beyond maxHTTPConnections a connection is not listed
// but counted in UnlistedHTTPConnections, so the caller notes each
// connection once (reassembly's HTTPGateway does).
func (s *Session) NoteHTTPConnection(conn string) {
	for _, c := range s.HTTPConnections {
		if c == conn {
			return
		}
	}
	if len(s.HTTPConnections) < maxHTTPConnections {
		s.HTTPConnections = append(s.HTTPConnections, conn)
		return
	}
	s.UnlistedHTTPConnections++
}

// NoteEmptyPoll counts a gateway poll that carried no data either way.
func (s *Session) NoteEmptyPoll() { s.EmptyPolls++ }

// maxHTTPConnections bounds the HTTP connections listed per gateway
// session; the client opens one per few requests at most, so a session
// polling every 2 s lists its first hour or so of connections.
const maxHTTPConnections = 1024
