// Package capgen turns an MSNP transcript into a capture file with real
// TCP, for tests of the reader side of msnsniff.
//
// Input is a [dissect.Transcript]: its connections (client and server
// endpoints) and its events (the wire bytes each side sends, in order).
// Output is a list of link-layer frames ([Packets]) that [WritePcap] and
// [WritePcapng] store as a classic pcap or a pcapng file; [Write] does both
// steps.
//
// Each connection becomes a TCP conversation as a host stack would send it:
// a three-way handshake with an MSS option (RFC 9293 §3.5) right before the
// connection's first event, data segments with correct sequence and
// acknowledgment numbers (ACK on every segment, PSH on the last segment of
// an event), a pure ACK from the receiver whenever it has
// [AckThreshold] or more bytes unacknowledged, and a FIN exchange (client
// FIN, server FIN-ACK, client ACK) right after the connection's last event.
// IPv4 header checksums (RFC 791) and TCP checksums over the IPv4 or IPv6
// pseudo header (RFC 9293 §3.1, RFC 8200 §8.1) are always correct. IPv4 or
// IPv6 follows from the transcript's addresses; IPv4-mapped IPv6 addresses
// count as IPv4. A connection whose transcript has no events sends nothing,
// and an event with no data sends nothing but still takes its time slot.
//
// [Options] can impair the capture the way a real capture point sees it:
// segments swapped with the next segment of the same direction, duplicated
// segments, sequence numbers that wrap past 2^32, a capture that starts
// after the handshake or ends before the FIN, and a snapshot length that
// cuts frames. Impairments never make a segment appear before one it
// depends on in the other direction: no segment acknowledges data that the
// capture has not shown yet.
//
// The output depends only on the transcript and the options: the same
// input gives the same bytes, and Options.Seed drives every random choice.
// capgen does not read the clock and keeps no package state, so its
// functions are safe for concurrent use on distinct arguments.
//
// The package deliberately does not use gopacket: it builds every header by
// hand so that files it writes cross-check msnsniff's gopacket-based reader.
package capgen
