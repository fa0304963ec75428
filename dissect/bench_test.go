package dissect

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"
)

// benchTranscripts are logins with notification and switchboard sessions:
// DS, NS and SB connections with chats, typing notifications, ACKs and an
// invitation.
var benchTranscripts = []string{
	"../testdata/msnp8-multiparty.txt",
	"../testdata/msnp2-chat.txt",
	"../testdata/msnp8-invite.txt",
}

// benchSegment is the largest chunk fed at once: one Ethernet TCP segment.
const benchSegment = 1460

// benchLoad parses the benchmark transcripts and returns their events and
// total wire bytes.
func benchLoad(tb testing.TB) (ts []*Transcript, bytes int64) {
	tb.Helper()
	for _, name := range benchTranscripts {
		text, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		t, err := ParseTranscript(text)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		for _, ev := range t.Events {
			bytes += int64(len(ev.Data))
		}
		ts = append(ts, t)
	}
	return ts, bytes
}

// benchHandler drops what the analyzer reports.
type benchHandler struct{}

func (benchHandler) Command(*Session, *Command) {}
func (benchHandler) Anomaly(*Session, *Anomaly) {}
func (benchHandler) SessionEnd(*Session)        {}

// replay feeds the transcripts to a, one session per connection, event by
// event in segment-sized chunks as reassembly would.
func benchReplay(a *Analyzer, ts []*Transcript) {
	t := time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, tr := range ts {
		ss := make([]*Session, len(tr.Conns))
		for i, c := range tr.Conns {
			ss[i] = a.Open(ConnInfo{Client: c.Client, Server: c.Server, Start: t, SYN: true, DetectedBy: "port"})
		}
		for _, ev := range tr.Events {
			t = t.Add(time.Millisecond + ev.Wait)
			for b := ev.Data; len(b) > 0; {
				n := min(len(b), benchSegment)
				ss[ev.Conn].Feed(ev.Dir, t, b[:n])
				b = b[n:]
			}
		}
		for _, s := range ss {
			s.End(t, true)
		}
	}
}

// BenchmarkSession measures command parsing and session processing: whole
// DS, NS and SB sessions through Analyzer, Feed and End.
func BenchmarkSession(b *testing.B) {
	ts, n := benchLoad(b)
	a := NewAnalyzer(benchHandler{}, Limits{})
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		benchReplay(a, ts)
	}
}

// benchLineSink is a lineSink that frames like a session does (the verb table
// tells payload lengths) and keeps nothing.
type benchLineSink struct {
	d      Dir
	params [][]byte
	lines  int
	pay    int
}

func (s *benchLineSink) line(_ time.Time, _ int64, raw []byte, _ bool) int {
	s.lines++
	body := raw[:len(raw)-1]
	if n := len(body); n > 0 && body[n-1] == '\r' {
		body = body[:n-1]
	}
	var verb []byte
	verb, s.params = splitLine(body, s.params)
	return shapeOf(verb, s.params, s.d, 0).payload
}

func (s *benchLineSink) payload(b []byte)                                    { s.pay += len(b) }
func (s *benchLineSink) payloadEnd(time.Time, int)                           {}
func (s *benchLineSink) event(string, time.Time, int64, int, string, []byte) {}

// benchDirStreams returns the bytes each direction of every connection
// carries, concatenated per direction.
func benchDirStreams(ts []*Transcript) [2][]byte {
	var out [2][]byte
	for _, tr := range ts {
		for _, ev := range tr.Events {
			out[ev.Dir] = append(out[ev.Dir], ev.Data...)
		}
	}
	return out
}

// BenchmarkFraming measures the framer alone: lines and payloads cut from
// segment-sized chunks, the verb table telling payload lengths.
func BenchmarkFraming(b *testing.B) {
	ts, _ := benchLoad(b)
	streams := benchDirStreams(ts)
	b.SetBytes(int64(len(streams[C2S]) + len(streams[S2C])))
	b.ReportAllocs()
	t := time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		for d := C2S; d <= S2C; d++ {
			f := newFramer(defaultMaxLine, true)
			s := &benchLineSink{d: d, params: make([][]byte, 0, 16)}
			for p := streams[d]; len(p) > 0; {
				n := min(len(p), benchSegment)
				f.feed(s, t, p[:n])
				p = p[n:]
			}
		}
	}
}

// benchTransactionBlock returns pairs of requests and replies with TrIDs first
// to first+n-1, each request followed by its reply.
func benchTransactionBlock(first, n int) [][2][]byte {
	out := make([][2][]byte, n)
	for i := range n {
		tr := first + i
		out[i] = [2][]byte{
			fmt.Appendf(nil, "URL %d INBOX\r\n", tr),
			fmt.Appendf(nil, "URL %d /cgi-bin/HoTMaiL https://loginnet.passport.com/ppsecure/md5auth.srf?lc=1033 2\r\n", tr),
		}
	}
	return out
}

// BenchmarkTransactions measures transaction matching: requests opened by
// TrID and matched by their replies, 256 per session.
func BenchmarkTransactions(b *testing.B) {
	block := benchTransactionBlock(10, 256)
	var n int64
	for _, p := range block {
		n += int64(len(p[0]) + len(p[1]))
	}
	a := NewAnalyzer(benchHandler{}, Limits{})
	c := ConnInfo{Client: netip.MustParseAddrPort("192.168.0.2:50001"), Server: netip.MustParseAddrPort("10.0.0.5:1863"), SYN: true}
	t := time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		s := a.Open(c)
		for _, p := range block {
			s.Feed(C2S, t, p[0])
			s.Feed(S2C, t, p[1])
		}
		s.End(t, true)
	}
}
