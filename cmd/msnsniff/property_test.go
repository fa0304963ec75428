package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
)

// The property of issue 5: for generated transcripts, any segmentation,
// reordering, duplication and sequence-number wrap gives the same commands
// as the clean capture. Each seed draws a transcript with
// capgen.RandTranscript, a way to regroup its bytes (regroup) and an
// impairment (randomImpairment), runs the whole msnsniff pipeline (run,
// -T ndjson, through commandsOf) on the clean and the impaired capture, and
// compares every command and anomaly record but their times.
// The clean capture must also give back exactly the transcript's commands
// with no anomaly, so that the comparison is not between two equally
// wrong outputs.
//
// To run many seeds by hand:
//
//	go test ./cmd/msnsniff -run TestCapturePropertyInvariant -property.n 5000
//	MSNSNIFF_PROPERTY_N=5000 go test ./cmd/msnsniff -run Property
//	go test ./cmd/msnsniff -run '^$' -fuzz FuzzCapturePropertyInvariant
//
// and to replay one (the failure message prints this):
//
//	go test ./cmd/msnsniff -run 'TestCapturePropertyInvariant/seed=123$' -property.seed 123 -property.n 1 -property.dump /tmp/p
var (
	propertyN = flag.Int("property.n", 0,
		"seeds TestCapturePropertyInvariant tries (0: $MSNSNIFF_PROPERTY_N, else "+strconv.Itoa(defaultPropertySeeds)+", "+strconv.Itoa(shortPropertySeeds)+" with -short or -race)")
	propertySeed = flag.Uint64("property.seed", 1, "first seed TestCapturePropertyInvariant tries")
	propertyDump = flag.String("property.dump", "", "directory where a failing seed's transcript and captures are written")
)

const (
	// defaultPropertySeeds keeps TestCapturePropertyInvariant near 5 s on
	// two cores: a seed costs two pipeline runs on a capture of about 20 KB
	// of MSNP, up to 40000 packets when cut into 1-byte segments.
	defaultPropertySeeds = 200
	// shortPropertySeeds is the count under -short, and under -race, which
	// makes the pipeline about ten times slower.
	shortPropertySeeds = 40
)

// propertySeeds returns the seeds to try.
func propertySeeds(t *testing.T) (first, n uint64) {
	first, k := *propertySeed, *propertyN
	if k == 0 {
		if s := os.Getenv("MSNSNIFF_PROPERTY_N"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 {
				t.Fatalf("MSNSNIFF_PROPERTY_N=%q: want a positive count", s)
			}
			k = v
		}
	}
	if k == 0 {
		k = defaultPropertySeeds
		if testing.Short() || raceEnabled() {
			k = shortPropertySeeds
		}
	}
	if k < 1 {
		t.Fatalf("-property.n %d: want a positive count", k)
	}
	return first, uint64(k)
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// randomImpairment draws capgen options that change how the capture looks
// but not one byte of what either side sent, so they must not change one
// command: segment sizes from 1 byte to jumbo frames, segments swapped with
// the next one and duplicated, initial sequence numbers anywhere and right
// below 2^32 so that they wrap, connections left open (no FIN), every link
// type, packet spacing, start time and pcap or pcapng. Left out, because
// they lose bytes by design: NoHandshake (a capture that starts after the
// handshake may legitimately miss or resynchronise on the first bytes)
// and Snaplen (cut frames).
func randomImpairment(r *rand.Rand) (opt capgen.Options, pcapng bool) {
	switch r.IntN(6) {
	case 0:
		opt.Segment = 1
	case 1:
		opt.Segment = 1 + r.IntN(8)
	case 2:
		opt.Segment = 1 + r.IntN(100)
	case 3:
		opt.Segment = 100 + r.IntN(1400)
	case 4:
		opt.Segment = 0 // capgen.DefaultSegment
	case 5:
		opt.Segment = capgen.DefaultSegment + 1 + r.IntN(9000-capgen.DefaultSegment)
	}
	prob := func() float64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return 1
		}
		return r.Float64()
	}
	opt.Reorder, opt.Duplicate = prob(), prob()
	opt.Seed = r.Int64()
	switch r.IntN(4) {
	case 0:
		opt.WrapSeq = true
	case 1:
		opt.ISN = math.MaxUint32 - uint32(r.IntN(20000))
	case 2:
		opt.ISN = r.Uint32() | 1
	}
	opt.NoFIN = r.IntN(4) == 0
	opt.Link = capgen.Link(r.IntN(5))
	opt.Step = []time.Duration{0, time.Microsecond, 10 * time.Microsecond, 50 * time.Millisecond}[r.IntN(4)]
	opt.Start = time.Unix(946684800+r.Int64N(1<<30), r.Int64N(1e9)/1000*1000).UTC()
	return opt, r.IntN(2) == 0
}

// regroup returns tr with the same bytes in each direction of each
// connection, in the same order against the other direction and the other
// connections, but cut into other events. capgen starts a segment at each
// event, so without this a segment boundary would always fall between two
// commands; regrouped, one segment carries several commands, or the end of
// one and the start of the next, and a line or payload ends anywhere. Each
// run of consecutive events of one connection and direction becomes one
// event ("runs"), or is cut again at random into pieces of 1 to 16 bytes
// ("small") or of 1 to 3000 bytes ("large"). The waits of a run go to its
// first piece. cut "" returns tr.
func regroup(tr *dissect.Transcript, cut string, r *rand.Rand) *dissect.Transcript {
	if cut == "" {
		return tr
	}
	out := &dissect.Transcript{Conns: tr.Conns}
	for i := 0; i < len(tr.Events); {
		first := tr.Events[i]
		run := dissect.TranscriptEvent{Conn: first.Conn, Dir: first.Dir}
		for ; i < len(tr.Events) && tr.Events[i].Conn == first.Conn && tr.Events[i].Dir == first.Dir; i++ {
			run.Wait += tr.Events[i].Wait
			run.Data = append(run.Data, tr.Events[i].Data...)
		}
		most := map[string]int{"small": 16, "large": 3000}[cut]
		for b := run.Data; len(b) > 0; {
			n := len(b)
			if most > 0 {
				n = min(n, 1+r.IntN(most))
			}
			out.Events = append(out.Events, dissect.TranscriptEvent{Conn: run.Conn, Dir: run.Dir, Wait: run.Wait, Data: b[:n:n]})
			run.Wait = 0
			b = b[n:]
		}
	}
	return out
}

// propertyCase is what one seed tests.
type propertyCase struct {
	seed uint64
	gen  capgen.RandOptions
	text []byte
	tr   *dissect.Transcript
	// cut is how the impaired capture regroups the transcript's bytes
	// before capgen segments them (see regroup); "" keeps its events.
	cut    string
	opt    capgen.Options
	pcapng bool
}

func newPropertyCase(t *testing.T, seed uint64) *propertyCase {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	pc := &propertyCase{seed: seed}
	// Most transcripts take the generator's defaults; some carry payloads
	// of tens of kilobytes, some long sessions.
	switch r.IntN(10) {
	case 0:
		pc.gen.MaxPayload = 30000
	case 1:
		pc.gen.Activity = 80
	}
	pc.cut = []string{"", "", "", "runs", "small", "large"}[r.IntN(6)]
	pc.opt, pc.pcapng = randomImpairment(r)
	var err error
	if pc.text, err = capgen.RandTranscript(rand.New(rand.NewPCG(seed, 0)), pc.gen); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if pc.tr, err = dissect.ParseTranscript(pc.text); err != nil {
		t.Fatalf("seed %d: %v\n%s", seed, err, pc.text)
	}
	return pc
}

func (pc *propertyCase) String() string {
	first, _, _ := bytes.Cut(pc.text, []byte("\n"))
	return fmt.Sprintf("seed %d (%s, generated with %+v) regrouped %q, impaired with %+v pcapng=%v; replay: go test ./cmd/msnsniff -run 'TestCapturePropertyInvariant/seed=%d$' -property.seed %d -property.n 1 -property.dump DIR",
		pc.seed, strings.TrimPrefix(string(first), "# "), pc.gen, pc.cut, pc.opt, pc.pcapng, pc.seed, pc.seed)
}

// dump writes the case's transcript and captures to -property.dump.
func (pc *propertyCase) dump(t *testing.T, clean, impaired []byte) {
	if *propertyDump == "" {
		return
	}
	if err := os.MkdirAll(*propertyDump, 0o755); err != nil {
		t.Error(err)
		return
	}
	ext := map[bool]string{false: ".pcap", true: ".pcapng"}[pc.pcapng]
	base := filepath.Join(*propertyDump, fmt.Sprintf("seed-%d", pc.seed))
	files := map[string][]byte{".txt": pc.text, "-clean.pcap": clean, "-impaired" + ext: impaired}
	for name, b := range files {
		if b == nil {
			continue
		}
		if err := os.WriteFile(base+name, b, 0o644); err != nil {
			t.Error(err)
			continue
		}
		t.Logf("wrote %s", base+name)
	}
}

// checkProperty runs one seed.
func checkProperty(t *testing.T, seed uint64) {
	pc := newPropertyCase(t, seed)
	clean := generate(t, pc.tr, capgen.Options{}, false)
	want := commandsOf(t, clean)
	if err := matchTranscript(pc.tr, want); err != nil {
		pc.dump(t, clean, nil)
		t.Fatalf("%v: the clean capture does not give the transcript's commands: %v", pc, err)
	}
	impaired := generate(t, regroup(pc.tr, pc.cut, rand.New(rand.NewPCG(pc.seed, 2))), pc.opt, pc.pcapng)
	got := commandsOf(t, impaired)
	if diff := cmp.Diff(want, got); diff != "" {
		pc.dump(t, clean, impaired)
		t.Errorf("%v: commands differ (-clean +impaired):\n%s", pc, diff)
	}
}

// TestCapturePropertyInvariant is the property test of issue 5 over
// -property.n seeds from -property.seed.
func TestCapturePropertyInvariant(t *testing.T) {
	first, n := propertySeeds(t)
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { checkProperty(t, seed) })
	}
}

// FuzzCapturePropertyInvariant is the same property with the seed chosen by
// the fuzzer.
func FuzzCapturePropertyInvariant(f *testing.F) {
	for _, seed := range []uint64{0, 1, 2, 3, 4} {
		f.Add(seed)
	}
	f.Fuzz(checkProperty)
}

// matchTranscript checks the command and anomaly records of a clean
// capture against the transcript: no anomaly, and per connection (session
// IDs follow the order connections open) one command per event, in order,
// with the event's direction, command line and payload length, and a
// payload body that ends the event's payload.
func matchTranscript(tr *dissect.Transcript, recs []map[string]any) error {
	perConn := make([][]dissect.TranscriptEvent, len(tr.Conns))
	for _, ev := range tr.Events {
		perConn[ev.Conn] = append(perConn[ev.Conn], ev)
	}
	next := make([]int, len(tr.Conns))
	for _, m := range recs {
		if m["type"] == "anomaly" {
			return fmt.Errorf("anomaly %v", m)
		}
		sess, _ := m["session"].(float64)
		conn := int(sess) - 1
		if conn < 0 || conn >= len(perConn) || next[conn] >= len(perConn[conn]) {
			return fmt.Errorf("command record beyond the transcript's events: %v", m)
		}
		ev := perConn[conn][next[conn]]
		next[conn]++
		line, payload, _ := bytes.Cut(ev.Data, []byte("\r\n"))
		got, err := recordLine(m)
		if err != nil {
			return err
		}
		dir := map[dissect.Dir]string{dissect.C2S: "c2s", dissect.S2C: "s2c"}[ev.Dir]
		if m["dir"] != dir || !bytes.Equal(got, line) {
			return fmt.Errorf("connection %d command %d: %v %q, want %s %q", conn, next[conn]-1, m["dir"], got, dir, line)
		}
		if n, _ := m["payload_len"].(float64); int(n) != len(payload) {
			return fmt.Errorf("connection %d command %d %q: payload_len %v, want %d", conn, next[conn]-1, line, m["payload_len"], len(payload))
		}
		if p, ok := m["payload"].(map[string]any); ok {
			body, err := recordBody(p)
			if err != nil {
				return err
			}
			if !bytes.HasSuffix(payload, body) || p["retained"] != float64(len(payload)) || p["lost_bytes"] != float64(0) {
				return fmt.Errorf("connection %d command %d %q: payload %v does not end the event's payload %q", conn, next[conn]-1, line, p, payload)
			}
		}
	}
	for i, k := range next {
		if k != len(perConn[i]) {
			return fmt.Errorf("connection %d: %d commands, want %d", i, k, len(perConn[i]))
		}
	}
	return nil
}

// recordLine rebuilds a command record's line: line_base64 when the line
// is not valid UTF-8, else the verb, TrID and arguments.
func recordLine(m map[string]any) ([]byte, error) {
	if s, ok := m["line_base64"].(string); ok {
		return base64.StdEncoding.DecodeString(s)
	}
	parts := []string{fmt.Sprint(m["verb"])}
	if trid, ok := m["trid"].(float64); ok {
		parts = append(parts, strconv.FormatFloat(trid, 'f', -1, 64))
	}
	args, _ := m["args"].([]any)
	for _, a := range args {
		parts = append(parts, fmt.Sprint(a))
	}
	return []byte(strings.Join(parts, " ")), nil
}

// recordBody returns a payload record's body bytes.
func recordBody(p map[string]any) ([]byte, error) {
	if s, ok := p["body_base64"].(string); ok {
		return base64.StdEncoding.DecodeString(s)
	}
	s, _ := p["body"].(string)
	return []byte(s), nil
}

// TestPropertyRegroup checks regroup: the bytes of each direction of each
// connection, and the order of the runs of one connection and direction,
// stay those of the transcript; "runs" leaves no two neighbouring events of
// one connection and direction.
func TestPropertyRegroup(t *testing.T) {
	type side struct {
		Conn int
		Dir  dissect.Dir
	}
	streams := func(tr *dissect.Transcript) (map[side]string, []side) {
		m := map[side]string{}
		var runs []side
		for i, ev := range tr.Events {
			k := side{ev.Conn, ev.Dir}
			m[k] += string(ev.Data)
			if i == 0 || runs[len(runs)-1] != k {
				runs = append(runs, k)
			}
		}
		return m, runs
	}
	for seed := range uint64(20) {
		pc := newPropertyCase(t, seed)
		wantStreams, wantRuns := streams(pc.tr)
		for _, cut := range []string{"runs", "small", "large"} {
			got := regroup(pc.tr, cut, rand.New(rand.NewPCG(seed, 2)))
			gotStreams, gotRuns := streams(got)
			if !cmp.Equal(gotStreams, wantStreams) || !cmp.Equal(gotRuns, wantRuns) {
				t.Errorf("seed %d, cut %q: the regrouped transcript carries other bytes or another order", seed, cut)
			}
			if cut == "runs" && len(got.Events) != len(gotRuns) {
				t.Errorf("seed %d, cut %q: %d events in %d runs", seed, cut, len(got.Events), len(gotRuns))
			}
		}
	}
}
