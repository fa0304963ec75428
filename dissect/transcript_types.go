package dissect

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
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

// ReadTranscript reads and parses the transcript file at path; a parse
// error names the file.
func ReadTranscript(path string) (*Transcript, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tr, err := ParseTranscript(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// Play runs the transcript through a, with no capture in between: one
// session per connection, opened (with a SYN, detected by port) at its
// first event, packet time advancing by a millisecond plus the event's
// Wait from start for each event, and each connection ending, closed, at
// the time of its last event. feed delivers an event's bytes to its
// session (a copy, which feed may keep or cut up); nil feeds them whole.
// Play returns the time of the last event.
func (tr *Transcript) Play(a *Analyzer, start time.Time, feed func(s *Session, e TranscriptEvent, t time.Time)) time.Time {
	if feed == nil {
		feed = func(s *Session, e TranscriptEvent, t time.Time) { s.Feed(e.Dir, t, e.Data) }
	}
	sessions := make([]*Session, len(tr.Conns))
	last := make([]int, len(tr.Conns))
	for i, e := range tr.Events {
		last[e.Conn] = i
	}
	now := start
	for i, e := range tr.Events {
		now = now.Add(time.Millisecond + e.Wait)
		s := sessions[e.Conn]
		if s == nil {
			c := tr.Conns[e.Conn]
			s = a.Open(ConnInfo{Client: c.Client, Server: c.Server, Start: now, SYN: true, DetectedBy: "port"})
			sessions[e.Conn] = s
		}
		e.Data = slices.Clone(e.Data)
		feed(s, e, now)
		if last[e.Conn] == i {
			s.End(now, true)
		}
	}
	return now
}
