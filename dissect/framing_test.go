package dissect

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// run feeds in to one session in pieces cut at the given sizes (cycled),
// direction by direction as the transcript marks it, and returns the
// commands as "C|S verb trid args|payload" strings and the anomaly kinds.
func runStream(t testing.TB, c2s, s2c string, sizes []int, lim Limits) (cmds []string, kinds []string) {
	r := &recorder{}
	a := NewAnalyzer(r, lim)
	s := a.Open(ConnInfo{SYN: true, Start: t0})
	feed := func(d Dir, in string) {
		b := []byte(in)
		for i := 0; len(b) > 0; i++ {
			k := len(b)
			if len(sizes) > 0 {
				k = min(max(sizes[i%len(sizes)], 1), len(b))
			}
			piece := append([]byte(nil), b[:k]...)
			s.Feed(d, t0.Add(time.Duration(i)*time.Microsecond), piece)
			for j := range piece {
				piece[j] = 0
			}
			b = b[k:]
		}
	}
	feed(C2S, c2s)
	feed(S2C, s2c)
	s.End(t0.Add(time.Second), true)
	for _, c := range r.cmds {
		cmds = append(cmds, fmt.Sprintf("%s %s|%d|%q", c.Dir.Prefix(), c.Line(), c.PayloadLen, c.Payload))
	}
	for _, an := range r.anomalies {
		kinds = append(kinds, an.Kind)
	}
	return cmds, kinds
}

func TestFramingSplitInvariant(t *testing.T) {
	tests := []struct {
		name     string
		c2s, s2c string
		want     int // commands
	}{
		{"lines", "VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r\n", "VER 1 MSNP8\r\n", 3},
		{"payload then line", "MSG 2 A 5\r\nhello", "MSG a@b.c A%20B 4\r\nabcdACK 2\r\n", 3},
		{"no CRLF after payload", "QRY 10 msmsgs@msnmsgr.com 32\r\n0123456789abcdef0123456789abcdefPNG\r\n", "QRY 10\r\nQNG 50\r\n", 4},
		{"traps", "UUX 5 3\r\nabcADL 6 3\r\nxyzPUT 7 2\r\nhi", "UUX 5 0\r\nADL 6 OK\r\nADL 0 3\r\nxyzPUT 7 OK 2\r\nhiCHL 0 123\r\n", 8},
		{"error reply", "USR 3 MD5 I a@b.c\r\n", "911 3\r\n", 2},
		{"zero payload", "SDC 4 a@b.c 0x0409 MSMSGS WindowsMessenger X X name 0\r\nOUT\r\n", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, kinds := runStream(t, tt.c2s, tt.s2c, nil, Limits{})
			if len(whole) != tt.want {
				t.Fatalf("got %d commands %q, want %d", len(whole), whole, tt.want)
			}
			if len(kinds) != 0 {
				t.Errorf("anomalies %v", kinds)
			}
			for _, sizes := range [][]int{{1}, {2}, {3}, {1, 4}, {5, 1, 2}, {7}, {13}} {
				got, _ := runStream(t, tt.c2s, tt.s2c, sizes, Limits{})
				if strings.Join(got, "\n") != strings.Join(whole, "\n") {
					t.Errorf("split %v:\n%s\nwant\n%s", sizes, strings.Join(got, "\n"), strings.Join(whole, "\n"))
				}
			}
		})
	}
}

func TestFramingAnomalies(t *testing.T) {
	tests := []struct {
		name     string
		c2s, s2c string
		lim      Limits
		kinds    []string
		cmds     int
	}{
		{"unknown verb", "FOO 1 x\r\n", "", Limits{}, []string{"unknown_verb"}, 1},
		{"not a command", "hello world\r\n", "", Limits{}, []string{"unknown_verb"}, 0},
		{"bad length", "", "MSG a b x\r\nNLN NLN a@b.c A\r\n", Limits{}, []string{"bad_length"}, 2},
		{"signed length", "", "MSG a b +5\r\nNLN NLN a@b.c A\r\n", Limits{}, []string{"bad_length"}, 2},
		{"length above limit resyncs", "", "MSG a b 999999\r\nJUNK\r\nNLN NLN a@b.c A\r\n", Limits{MaxPayload: 1000}, []string{"bad_length", "resync"}, 2},
		{"line too long", strings.Repeat("A", 100) + "\r\nPNG\r\n", "", Limits{MaxLine: 50}, []string{"line_too_long"}, 1},
		{"bare LF", "PNG\n", "", Limits{}, []string{"bare_lf"}, 1},
		{"stream ends in line", "PNG\r\nVER 1 MS", "", Limits{}, []string{"truncated_line"}, 1},
		{"stream ends in payload", "", "MSG a b 10\r\nabc", Limits{}, []string{"truncated_payload"}, 1},
		{"wrong direction", "NLN NLN a@b.c x\r\n", "", Limits{}, []string{"wrong_direction"}, 1},
		{"unknown trid", "", "CHG 9 NLN\r\n", Limits{}, []string{"unknown_trid"}, 1},
		{"trid reused", "CHG 9 NLN\r\nCHG 9 BSY\r\n", "", Limits{}, []string{"trid_reused"}, 2},
		{"after out", "OUT\r\nPNG\r\n", "", Limits{}, []string{"after_out"}, 2},
		{"unknown error code", "CHG 9 NLN\r\n", "999 9\r\n", Limits{}, []string{"unknown_error_code"}, 2},
		{"too few parameters", "CHG 10\r\n", "", Limits{}, []string{"bad_arity"}, 1},
		{"too many parameters", "BLP 11 AL BL junk\r\n", "", Limits{}, []string{"bad_arity"}, 1},
		{"error with parameters", "CHG 9 NLN\r\n", "911 9 x\r\n", Limits{}, []string{"bad_arity"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, kinds := runStream(t, tt.c2s, tt.s2c, nil, tt.lim)
			if strings.Join(kinds, ",") != strings.Join(tt.kinds, ",") {
				t.Errorf("anomalies = %v, want %v", kinds, tt.kinds)
			}
			if len(cmds) != tt.cmds {
				t.Errorf("commands = %q, want %d", cmds, tt.cmds)
			}
			for _, sizes := range [][]int{{1}, {3}} {
				_, k2 := runStream(t, tt.c2s, tt.s2c, sizes, tt.lim)
				if strings.Join(k2, ",") != strings.Join(kinds, ",") {
					t.Errorf("split %v: anomalies %v, want %v", sizes, k2, kinds)
				}
			}
		})
	}
}

func TestGapInsidePayloadKeepsSync(t *testing.T) {
	r := &recorder{}
	s := NewAnalyzer(r, Limits{}).Open(ConnInfo{SYN: true, Start: t0})
	s.Feed(S2C, t0, []byte("MSG a b 10\r\nabc"))
	s.Gap(S2C, t0, 4)
	s.Feed(S2C, t0, []byte("xyzNLN NLN a@b.c A\r\n"))
	s.End(t0, true)
	if len(r.cmds) != 2 || r.cmds[0].PayloadLost != 4 || r.cmds[1].Verb != "NLN" {
		t.Fatalf("commands %+v", r.cmds)
	}
	if s.Lost[S2C] != 4 {
		t.Errorf("lost = %d, want 4", s.Lost[S2C])
	}
}

func TestGapBetweenLinesResyncs(t *testing.T) {
	r := &recorder{}
	s := NewAnalyzer(r, Limits{}).Open(ConnInfo{SYN: true, Start: t0})
	s.Feed(S2C, t0, []byte("NLN NLN a@b.c A\r\nILN 1 NL"))
	s.Gap(S2C, t0, 100)
	s.Feed(S2C, t0, []byte("de%20x\r\nFLN a@b.c\r\n"))
	s.End(t0, true)
	var verbs []string
	for _, c := range r.cmds {
		verbs = append(verbs, c.Verb)
	}
	if strings.Join(verbs, " ") != "NLN FLN" {
		t.Errorf("verbs = %v, want NLN FLN", verbs)
	}
	var kinds []string
	for _, a := range r.anomalies {
		kinds = append(kinds, a.Kind)
	}
	if strings.Join(kinds, ",") != "gap,truncated_line,resync" {
		t.Errorf("anomalies = %v", kinds)
	}
}

// TestGapUnknownSize feeds gaps whose size reassembly could not tell
// (Gap with n 0): each is a gap_unknown_size anomaly, counted in
// UnknownGaps and not in Lost, and framing loses sync as after a gap of
// known size that does not fit in the current payload.
func TestGapUnknownSize(t *testing.T) {
	tests := []struct {
		name         string
		before, gap  string // S2C bytes before and after the gap
		verbs        string
		kinds        string
		payloadLost  int // of the first command
		gapOff       int64
		resyncOffset int64
	}{
		{
			name:   "between lines",
			before: "NLN NLN a@b.c A\r\nILN 1 NL", gap: "de%20x\r\nFLN a@b.c\r\n",
			verbs: "NLN FLN", kinds: "gap_unknown_size,truncated_line,resync",
			gapOff: 25, resyncOffset: 25,
		},
		{
			// The payload may have ended inside the gap: it is cut, and the
			// bytes after the gap are not taken as its rest.
			name:   "inside a payload",
			before: "MSG a b 10\r\nabc", gap: "xyz\r\nNLN NLN a@b.c A\r\n",
			verbs: "MSG NLN", kinds: "gap_unknown_size,truncated_payload,resync",
			payloadLost: 7, gapOff: 15, resyncOffset: 15,
		},
		{
			name:   "at a line start",
			before: "NLN NLN a@b.c A\r\n", gap: "FLN a@b.c\r\n",
			verbs: "NLN FLN", kinds: "gap_unknown_size",
			gapOff: 17,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			s := NewAnalyzer(r, Limits{}).Open(ConnInfo{SYN: true, Start: t0})
			s.Feed(S2C, t0, []byte(tt.before))
			s.Gap(S2C, t0, 0)
			s.Feed(S2C, t0, []byte(tt.gap))
			s.End(t0, true)
			var verbs, kinds []string
			for _, c := range r.cmds {
				verbs = append(verbs, c.Verb)
			}
			for _, a := range r.anomalies {
				kinds = append(kinds, a.Kind)
				switch a.Kind {
				case "gap_unknown_size":
					if a.Bytes != 0 || a.Offset != tt.gapOff || a.Dir != S2C || !strings.Contains(a.Detail, "unknown") {
						t.Errorf("gap anomaly %+v; want bytes 0, offset %d, s2c, a detail saying the size is unknown", a, tt.gapOff)
					}
				case "resync":
					if a.Offset != tt.resyncOffset {
						t.Errorf("resync at offset %d, want %d", a.Offset, tt.resyncOffset)
					}
				}
			}
			if got := strings.Join(verbs, " "); got != tt.verbs {
				t.Errorf("verbs = %q, want %q", got, tt.verbs)
			}
			if got := strings.Join(kinds, ","); got != tt.kinds {
				t.Errorf("anomalies = %q, want %q", got, tt.kinds)
			}
			if len(r.cmds) > 0 && r.cmds[0].PayloadLost != tt.payloadLost {
				t.Errorf("payload lost = %d, want %d", r.cmds[0].PayloadLost, tt.payloadLost)
			}
			if s.UnknownGaps != [2]int{0, 1} || s.Lost != [2]int64{} {
				t.Errorf("unknown gaps %v, lost %v; want [0 1], [0 0]", s.UnknownGaps, s.Lost)
			}
			if want := int64(len(tt.before) + len(tt.gap)); s.Bytes[S2C] != want {
				t.Errorf("bytes = %d, want %d (the bytes seen)", s.Bytes[S2C], want)
			}
		})
	}
}

// TestGapUnknownSizeC2SKeepsOrphans checks that a reply whose request may
// have been lost in a C2S gap of unknown size is not blamed on the
// traffic (unknown_trid), as with a gap of known size.
func TestGapUnknownSizeC2SKeepsOrphans(t *testing.T) {
	for _, n := range []int{0, 20} {
		r := &recorder{}
		s := NewAnalyzer(r, Limits{}).Open(ConnInfo{SYN: true, Start: t0})
		s.Gap(C2S, t0, n)
		s.Feed(S2C, t0, []byte("CHG 9 NLN 0\r\n"))
		s.End(t0, true)
		for _, a := range r.anomalies {
			if a.Kind == "unknown_trid" {
				t.Errorf("gap of %d: %+v", n, a)
			}
		}
	}
}

func TestMidStreamStart(t *testing.T) {
	r := &recorder{}
	s := NewAnalyzer(r, Limits{}).Open(ConnInfo{SYN: false, Start: t0})
	// The capture starts inside a MSG payload.
	s.Feed(S2C, t0, []byte("ent-Type: text/plain\r\n\r\nhi there\r\nMSG a@b.c A 3\r\nyo!JOI c@d.e C\r\n"))
	s.End(t0, false)
	if len(r.cmds) != 2 || r.cmds[0].Verb != "MSG" || string(r.cmds[0].Payload) != "yo!" || r.cmds[1].Verb != "JOI" {
		t.Fatalf("commands %+v", r.cmds)
	}
}

// TestFramingAllocs checks that framing lines that carry no payload
// allocates nothing in the steady state.
func TestFramingAllocs(t *testing.T) {
	f := newFramer(defaultMaxLine, true)
	sink := &countSink{}
	in := []byte("NLN NLN a@b.c Alice 268435492\r\nCHG 12 NLN 0\r\nQNG 50\r\n")
	f.feed(sink, t0, in)
	allocs := testing.AllocsPerRun(100, func() {
		f.feed(sink, t0, in[:7])
		f.feed(sink, t0, in[7:])
	})
	if allocs != 0 {
		t.Errorf("framing allocates %.1f times per run, want 0", allocs)
	}
	if sink.lines != 3*102 { // AllocsPerRun runs once more to warm up
		t.Errorf("lines = %d", sink.lines)
	}
}

// countSink is a lineSink that splits and classifies each line the way a
// session does, and counts.
type countSink struct {
	lines  int
	params [][]byte
}

func (c *countSink) line(t time.Time, off int64, b []byte, inSync bool) int {
	c.lines++
	verb, params := splitLine(b[:len(b)-2], c.params)
	c.params = params[:0]
	return shapeOf(verb, params, S2C, 8).payload
}
func (c *countSink) payload(b []byte)                                    {}
func (c *countSink) payloadEnd(t time.Time, lost int)                    {}
func (c *countSink) event(string, time.Time, int64, int, string, []byte) {}

// TestReplyBeforeRequest: a client segment held back by reassembly (a
// hole before it) reaches the dissector after the server's reply; the
// reply is matched by packet time, with no anomaly. A reply captured
// before any request with its TrID is still reported.
func TestReplyBeforeRequest(t *testing.T) {
	r := &recorder{}
	s := NewAnalyzer(r, Limits{}).Open(ConnInfo{SYN: true, Start: t0})
	s.Feed(C2S, t0, []byte("VER 1 MSNP7\r\n"))
	s.Feed(S2C, t0.Add(2*time.Millisecond), []byte("VER 1 MSNP7\r\nADG 10 10 New%20Group 2 0\r\n"))
	s.Feed(C2S, t0.Add(time.Millisecond), []byte("ADG 10 New%20Group 0\r\n"))
	s.Feed(S2C, t0.Add(3*time.Millisecond), []byte("CHG 11 NLN\r\n"))
	s.Feed(C2S, t0.Add(4*time.Millisecond), []byte("CHG 11 NLN\r\n"))
	s.End(t0.Add(time.Second), true)
	var kinds []string
	for _, a := range r.anomalies {
		kinds = append(kinds, a.Kind+" "+a.Line)
	}
	if strings.Join(kinds, ",") != "unknown_trid CHG 11 NLN" {
		t.Errorf("anomalies = %q, want only the CHG reply captured before its request", kinds)
	}
	if len(s.GroupOps) != 1 || s.GroupOps[0].Status != StatusOK || s.GroupOps[0].GroupID != "2" {
		t.Fatalf("group op %+v", s.GroupOps)
	}
	if tx := s.Transactions[1]; tx.Verb != "ADG" || tx.Status != StatusOK || tx.Latency != time.Millisecond {
		t.Errorf("ADG transaction %+v", tx)
	}
	if s.UnmatchedReplies != 1 {
		t.Errorf("unmatched replies = %d, want 1", s.UnmatchedReplies)
	}
}
