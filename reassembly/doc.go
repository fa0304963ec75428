// Package reassembly turns capture files into ordered TCP byte streams of
// MSNP connections.
//
// # Inputs
//
// Open reads a pcap or pcapng file (optionally gzip-compressed, "-" for
// stdin) with gopacket's pure-Go pcapgo readers; pcap records are read in
// place from the read buffer, with pcapgo's checks. Records longer than
// MaxRecordLen are refused before they are read. Errors are *FileError
// values naming the file, the packet number and, for pcap, the byte offset;
// every packet before the damage is delivered. Run merges several Sources by
// packet timestamp and feeds an Engine.
//
// Engine.Packet decodes Ethernet (with 802.1Q/802.1ad tags and PPPoE), Linux
// cooked (SLL and SLL2), raw IP and BSD null/loopback frames, IPv4 (fragments
// are reassembled with gopacket's ip4defrag) and IPv6 (extension headers are
// followed; fragments are counted, not reassembled), by slicing the headers
// without allocating. TCP segments with an endpoint on an MSNP port
// (Options.Ports, default 1863) go to the Engine's TCP assembler (asm.go),
// which follows the rules of gopacket's reassembly.Assembler that it
// replaced, without its locks, interfaces and per-packet allocations.
// Checksums are not verified: captures taken on the sending host carry
// offloaded, unfinished checksums.
//
// # Outputs
//
// For each connection the Sink opens one Stream and receives, per direction
// (dissect.C2S is from the client to the endpoint on the MSNP port), the
// bytes in sequence order with Feed, one call per captured packet so that each
// carries its packet's time; Gap for bytes never captured; and End exactly
// once. Connections caught mid-stream are delivered from their first captured
// byte. Everything that is not delivered is counted in Stats: non-IP, non-TCP
// and other-port packets, decoding failures by kind, truncated packets,
// stray and late segments.
//
// # Limits and time
//
// Out-of-order data is held in pages of at most 1900 bytes, bounded per
// connection and in total by Options; at a limit the oldest hole is given
// up and reported as a Gap. All timing is packet time: every FlushInterval the data stuck behind a
// hole for longer than ReorderWindow is delivered after a Gap, and connections
// silent for IdleTimeout are ended (for HalfCloseTimeout, when a FIN was
// seen one way only). Engine.Finish delivers what is left and
// ends the remaining Streams. IPv4 fragments are held for at most 30 s and
// 4 MiB. The clock these waits follow is the latest packet time, except
// that a lone packet more than IdleTimeout from it (a damaged timestamp)
// does not move it; a jump that the next packet confirms is followed
// (Engine.Packet, Stats.TimestampJumps).
//
// # Concurrency
//
// Neither Engine nor Source is safe for concurrent use; the Sink and Streams
// are called synchronously from Engine.Packet and Engine.Finish, on the
// caller's goroutine. With more than one CPU, Run pipelines the work: one
// goroutine reads the files, another runs the Engine, and the caller's
// goroutine makes the Sink and Stream calls, the same calls in the same
// order as without the pipeline. Output does not depend on scheduling: what
// a flush delivers goes stream by stream in the order the streams opened.
//
// This package defines no command-line flags.
package reassembly
