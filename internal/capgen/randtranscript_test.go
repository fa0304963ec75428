package capgen

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// randSeeds is how many seeds the generator tests try: enough to reach
// every version and verb several times (TestRandTranscriptCoverage checks
// that it does), in well under a second.
func randSeeds() uint64 {
	if testing.Short() {
		return 100
	}
	return 400
}

func randText(t *testing.T, seed uint64, opt RandOptions) []byte {
	t.Helper()
	text, err := RandTranscript(rand.New(rand.NewPCG(seed, 0)), opt)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	return text
}

func randTranscript(t *testing.T, seed uint64) (*dissect.Transcript, []byte) {
	t.Helper()
	text := randText(t, seed, RandOptions{})
	tr, err := dissect.ParseTranscript(text)
	if err != nil {
		t.Fatalf("seed %d: ParseTranscript: %v\n%s", seed, err, text)
	}
	return tr, text
}

// collector is a dissect.Handler that keeps what the dissector reports.
type collector struct {
	cmds      map[int][]*dissect.Command // by session ID
	anomalies []string
}

func (h *collector) Command(s *dissect.Session, c *dissect.Command) {
	h.cmds[s.ID] = append(h.cmds[s.ID], c.Clone())
}

func (h *collector) Anomaly(s *dissect.Session, a *dissect.Anomaly) {
	h.anomalies = append(h.anomalies, fmt.Sprintf("session %d (%s) %s offset %d: %s: %s %q", s.ID, s.Kind, a.Dir, a.Offset, a.Kind, a.Detail, a.Line))
}

func (h *collector) SessionEnd(*dissect.Session) {}

// dissectDirect feeds the transcript's events straight to the dissector,
// as a clean capture would deliver them (each connection opened with its
// handshake, ended after its last event), cutting each event's bytes into
// pieces with split (nil: whole), and returns what it reported.
func dissectDirect(tr *dissect.Transcript, split func([]byte) [][]byte) *collector {
	h := &collector{cmds: map[int][]*dissect.Command{}}
	tr.Play(dissect.NewAnalyzer(h, dissect.Limits{}), time.Unix(DefaultStartUnix, 0), func(s *dissect.Session, ev dissect.TranscriptEvent, now time.Time) {
		pieces := [][]byte{ev.Data}
		if split != nil {
			pieces = split(ev.Data)
		}
		for _, p := range pieces {
			s.Feed(ev.Dir, now, p)
		}
	})
	return h
}

// checkCommands reports how the dissected commands differ from the
// transcript's events: one command per event, in order per connection,
// with the same direction, line and payload bytes.
func checkCommands(tr *dissect.Transcript, h *collector) error {
	perConn := make([][]dissect.TranscriptEvent, len(tr.Conns))
	for _, ev := range tr.Events {
		perConn[ev.Conn] = append(perConn[ev.Conn], ev)
	}
	for i, evs := range perConn {
		cmds := h.cmds[i+1]
		if len(cmds) != len(evs) {
			return fmt.Errorf("connection %d: %d commands, want %d", i, len(cmds), len(evs))
		}
		for k, ev := range evs {
			c := cmds[k]
			line, payload, _ := bytes.Cut(ev.Data, []byte("\r\n"))
			got := c.Line()
			switch {
			case c.Dir != ev.Dir:
				return fmt.Errorf("connection %d command %d: dir %v, want %v", i, k, c.Dir, ev.Dir)
			case got != string(line):
				return fmt.Errorf("connection %d command %d: line %q, want %q", i, k, got, line)
			case c.PayloadLen < 0 && len(payload) > 0:
				return fmt.Errorf("connection %d command %d %q: no payload, want %d bytes", i, k, line, len(payload))
			case c.PayloadLen >= 0 && (c.PayloadLen != len(payload) || !bytes.Equal(c.Payload, payload) || c.PayloadLost != 0):
				return fmt.Errorf("connection %d command %d %q: payload %q (%d lost), want %q", i, k, line, c.Payload, c.PayloadLost, payload)
			}
		}
	}
	return nil
}

// TestRandTranscriptValid is the generator's own property: every
// transcript parses, and dissecting it, whole or cut into random pieces,
// gives back exactly its commands and no anomaly at all. A failure here is
// a generator that strays from the grammar (or a dissector that does); the
// log names the seed.
func TestRandTranscriptValid(t *testing.T) {
	for seed := range randSeeds() {
		tr, text := randTranscript(t, seed)
		r := rand.New(rand.NewPCG(seed, 1))
		for _, mode := range []string{"whole", "split"} {
			var split func([]byte) [][]byte
			if mode == "split" {
				split = func(b []byte) [][]byte { return randomSplit(r, b) }
			}
			h := dissectDirect(tr, split)
			if len(h.anomalies) > 0 {
				t.Errorf("seed %d (%s): %d anomalies, want none:\n%s\n%s", seed, mode, len(h.anomalies), strings.Join(h.anomalies, "\n"), text)
				continue
			}
			if err := checkCommands(tr, h); err != nil {
				t.Errorf("seed %d (%s): %v\n%s", seed, mode, err, text)
			}
		}
	}
}

// randomSplit cuts b into pieces of 1 to 7 bytes, or 1 byte each.
func randomSplit(r *rand.Rand, b []byte) [][]byte {
	var out [][]byte
	most := 1 + r.IntN(7)
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(most))
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out
}

// TestRandTranscriptCheckerCatches shows that the validity check above can
// fail: a stray line end after one command, or a payload length one too
// long, is reported.
func TestRandTranscriptCheckerCatches(t *testing.T) {
	tr, _ := randTranscript(t, 3)
	for _, tc := range []struct {
		name   string
		change func(ev *dissect.TranscriptEvent) bool
	}{
		{"stray CRLF", func(ev *dissect.TranscriptEvent) bool {
			ev.Data = append(ev.Data, '\r', '\n')
			return true
		}},
		{"length one too long", func(ev *dissect.TranscriptEvent) bool {
			line, payload, _ := bytes.Cut(ev.Data, []byte("\r\n"))
			f := bytes.Fields(line)
			if len(payload) == 0 || len(f) < 2 {
				return false
			}
			n := fmt.Sprint(len(payload) + 1)
			if string(f[len(f)-1]) != fmt.Sprint(len(payload)) {
				return false
			}
			ev.Data = append(append(append([]byte(nil), line[:len(line)-len(f[len(f)-1])]...), n+"\r\n"...), payload...)
			return true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := &dissect.Transcript{Conns: tr.Conns}
			changed := false
			for i, ev := range tr.Events {
				ev.Data = bytes.Clone(ev.Data)
				if !changed && i > 3 && ev.Conn == tr.Events[len(tr.Events)-1].Conn && i < len(tr.Events)-1 {
					changed = tc.change(&ev)
				}
				bad.Events = append(bad.Events, ev)
			}
			if !changed {
				t.Fatal("nothing to change in the transcript of seed 3")
			}
			h := dissectDirect(bad, nil)
			if len(h.anomalies) == 0 && checkCommands(bad, h) == nil {
				t.Error("damaged transcript dissects cleanly; the validity check cannot fail")
			}
		})
	}
}

func TestRandTranscriptDeterministic(t *testing.T) {
	a := randText(t, 42, RandOptions{})
	b := randText(t, 42, RandOptions{})
	c := randText(t, 43, RandOptions{})
	if !bytes.Equal(a, b) {
		t.Error("seed 42 gives two different transcripts")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 42 and 43 give the same transcript")
	}
}

// TestRandTranscriptCoverage checks that the seeds the tests use reach what
// the generator is for: every version, every kind of connection, the verbs
// of each service, error replies, and the payload traps.
func TestRandTranscriptCoverage(t *testing.T) {
	versions := map[string]bool{}
	verbs := map[string]bool{}
	feature := map[string]int{}
	const seeds = 400 // with -short too: the counts below need them
	for seed := range uint64(seeds) {
		tr, text := randTranscript(t, seed)
		first, _, _ := bytes.Cut(text, []byte("\n"))
		versions[string(bytes.Fields(first)[3])] = true
		for _, ev := range tr.Events {
			line, payload, _ := bytes.Cut(ev.Data, []byte("\r\n"))
			verb := string(line[:3])
			verbs[ev.Dir.Prefix()+" "+verb] = true
			if _, err := fmt.Sscan(verb, new(int)); err == nil {
				feature["error reply"]++
			}
			switch {
			case bytes.Contains(payload, []byte("MSG 1 N 5\r\n")), bytes.Contains(payload, []byte("\r\nMSG alice")):
				feature["command line inside a payload"]++
			}
			if bytes.Contains(line, []byte(" MSG ")) || bytes.HasPrefix(line, []byte("MSG")) {
				if len(payload) == 0 {
					feature["empty MSG payload"]++
				}
				if len(payload) > 2000 {
					feature["MSG payload over 2000 bytes"]++
				}
			}
			if len(payload) > 0 && !utf8Valid(payload) {
				feature["invalid UTF-8 in a payload"]++
			}
			if len(line) > 0 && !utf8Valid(line) {
				feature["invalid UTF-8 in a line"]++
			}
			if bytes.Contains(line, []byte("%20")) {
				feature["URL-encoded space"]++
			}
			if f := bytes.Fields(line); len(f) > 1 && len(f[1]) == 10 {
				feature["10-digit TrID"]++
			}
		}
		if len(tr.Conns) >= 3 {
			feature["3+ connections"]++
		}
		if bytes.Contains(text, []byte("[2001:db8")) {
			feature["IPv6"]++
		}
	}
	for v := 2; v <= 21; v++ {
		if !versions[fmt.Sprintf("MSNP%d", v)] {
			t.Errorf("no transcript in MSNP%d", v)
		}
	}
	for _, v := range []string{"C VER", "S VER", "C INF", "C CVR", "C CVQ", "C USR", "S USR", "S XFR", "C SYN", "S LST", "S LSG", "S GTC", "S BLP",
		"S PRP", "S BPR", "C ADD", "S ADD", "C REM", "C ADC", "C ADG", "C REG", "C RMG", "C REA", "C CHG", "S ILN", "S NLN", "S FLN",
		"C PNG", "S QNG", "S CHL", "C QRY", "S NOT", "S IPG", "S MSG", "S RNG", "S UBX", "C UUX", "S SBS", "S GCF", "C ADL", "S ADL", "S RML",
		"C UUN", "S UBN", "C FQY", "C UUM", "C PUT", "C DEL", "S SDG", "S NFY", "C SDC", "C IMS", "C URL",
		"C CAL", "S CAL", "C ANS", "S IRO", "S JOI", "C MSG", "S ACK", "S NAK", "S BYE", "C OUT", "S OUT"} {
		if !verbs[v] {
			t.Errorf("no %s line", v)
		}
	}
	for _, f := range []string{"error reply", "command line inside a payload", "empty MSG payload", "MSG payload over 2000 bytes",
		"invalid UTF-8 in a payload", "invalid UTF-8 in a line", "URL-encoded space", "10-digit TrID", "3+ connections", "IPv6"} {
		if feature[f] == 0 {
			t.Errorf("no %s", f)
		}
	}
	t.Logf("%d seeds: %d verbs by direction; features %v", seeds, len(verbs), feature)
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

func TestRandTranscriptOptions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, opt := range []RandOptions{{Activity: -1}, {Activity: MaxRandActivity + 1}, {MaxPayload: -1}, {MaxPayload: MaxRandMaxPayload + 1}} {
		if _, err := RandTranscript(r, opt); !errors.Is(err, ErrOptions) {
			t.Errorf("RandTranscript(%+v) = %v, want ErrOptions", opt, err)
		}
	}
	if _, err := RandTranscript(nil, RandOptions{}); !errors.Is(err, ErrOptions) {
		t.Errorf("RandTranscript(nil) = %v, want ErrOptions", err)
	}
	// The extremes stay valid and within MaxPackets cut into 1-byte
	// segments.
	for _, opt := range []RandOptions{{Activity: 1, MaxPayload: 1}, {Activity: 200, MaxPayload: MaxRandMaxPayload}} {
		text, err := RandTranscript(rand.New(rand.NewPCG(7, 7)), opt)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := dissect.ParseTranscript(text)
		if err != nil {
			t.Fatalf("%+v: %v", opt, err)
		}
		if h := dissectDirect(tr, nil); len(h.anomalies) > 0 || checkCommands(tr, h) != nil {
			t.Errorf("%+v: %v %v", opt, h.anomalies, checkCommands(tr, h))
		}
		if testing.Short() {
			continue
		}
		if _, err := Packets(tr, Options{Segment: 1, Duplicate: 0.2, Seed: 1}); err != nil {
			t.Errorf("%+v: Packets with 1-byte segments: %v", opt, err)
		}
	}
}
