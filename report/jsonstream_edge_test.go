package report

// Edge cases of the streamed JSON report, found in review: each drives the
// dissector directly and holds the streamed document to the batch
// reference (writeJSON).

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

var zt0 = time.Date(2024, 9, 14, 13, 0, 0, 0, time.UTC)

type drv struct {
	a   *dissect.Analyzer
	now time.Time
}

func (d *drv) open(client, server string) *dissect.Session {
	return d.a.Open(dissect.ConnInfo{Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort(server), Start: d.now, SYN: true, DetectedBy: "port"})
}
func (d *drv) c(s *dissect.Session, line string) {
	d.now = d.now.Add(time.Millisecond)
	s.Feed(dissect.C2S, d.now, []byte(line+"\r\n"))
}
func (d *drv) s(s *dissect.Session, line string) {
	d.now = d.now.Add(time.Millisecond)
	s.Feed(dissect.S2C, d.now, []byte(line+"\r\n"))
}
func (d *drv) end(s *dissect.Session) {
	d.now = d.now.Add(time.Millisecond)
	s.End(d.now, true)
}

// compare runs script against the streamed report and the batch writer.
func compare(t *testing.T, mem int, script func(d *drv)) (string, string) {
	t.Helper()
	saved := spoolMemory
	spoolMemory = mem
	defer func() { spoolMemory = saved }()
	var got bytes.Buffer
	out := NewOutput(&got, Options{Format: FormatJSON})
	keep := &keepSessions{Handler: out}
	d := &drv{a: dissect.NewAnalyzer(keep, dissect.Limits{}), now: zt0}
	script(d)
	capture := Capture{Anomalies: []Count{}}
	if err := out.Close(capture); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := writeJSON(&want, capture, keep.ss); err != nil {
		t.Fatal(err)
	}
	if d := firstDiff(got.Bytes(), want.Bytes()); d != "" {
		t.Errorf("streamed differs from batch %s", d)
	}
	return got.String(), want.String()
}

// sbLogin: USR cookie login on a switchboard.
func sbLogin(d *drv, s *dissect.Session, user, cookie string) {
	d.c(s, "USR 1 "+user+" "+cookie)
	d.s(s, "USR 1 OK "+user+" Name")
}

// cookieReuse plays a switchboard cookie used twice, the second time after
// its granting session has ended, nfill other sessions and pause later, so
// that the granting session has been handed to the encoder by then.
func cookieReuse(d *drv, nfill int, pause time.Duration) {
	ns := d.open("192.168.0.2:50001", "10.0.0.5:1863")
	d.c(ns, "XFR 10 SB")
	d.s(ns, "XFR 10 SB 10.0.0.9:1865 CKI cookie1")
	sb1 := d.open("192.168.0.2:50002", "10.0.0.9:1865")
	sbLogin(d, sb1, "alice@x", "cookie1")
	d.end(sb1)
	d.end(ns) // awaiting 0: final, encoded now
	for i := 0; i < nfill; i++ {
		x := d.open(fmt.Sprintf("192.168.1.%d:%d", i%250, 40000+i), "10.0.0.1:1863")
		d.c(x, "VER 1 MSNP8 CVR0")
		d.end(x)
	}
	time.Sleep(pause)
	sb2 := d.open("192.168.0.2:50003", "10.0.0.9:1865")
	sbLogin(d, sb2, "alice@x", "cookie1") // same cookie again
	d.end(sb2)
}

// A switchboard cookie used twice: the first follower is the one the
// grant names, and nothing changes the granting session afterwards.
func TestJSONStreamCookieReuse(t *testing.T) {
	compare(t, 8<<20, func(d *drv) { cookieReuse(d, 300, 50*time.Millisecond) })
}

// A switchboard session whose session id changes after it is known (a
// second CAL ... RINGING) belongs to the chat of its last id.
func TestJSONStreamSessionIDChanges(t *testing.T) {
	compare(t, 8<<20, func(d *drv) {
		sb1 := d.open("192.168.0.2:50002", "10.0.0.9:1865")
		sbLogin(d, sb1, "alice@x", "c1")
		d.c(sb1, "CAL 2 bob@x")
		d.s(sb1, "CAL 2 RINGING 111")
		d.c(sb1, "CAL 3 carol@x")
		d.s(sb1, "CAL 3 RINGING 222")
		sb2 := d.open("192.168.0.3:50002", "10.0.0.9:1865")
		d.c(sb2, "ANS 1 bob@x c2 222")
		d.s(sb2, "ANS 1 OK")
		d.end(sb1)
		d.end(sb2)
	})
}

// Two switchboard sessions without a session id, same addresses and start,
// are two conversations.
func TestJSONStreamSameStartNoID(t *testing.T) {
	compare(t, 8<<20, func(d *drv) {
		sb1 := d.open("192.168.0.2:50002", "10.0.0.9:1865")
		sbLogin(d, sb1, "alice@x", "c1")
		d.end(sb1)
		d.now = zt0
		sb2 := d.open("192.168.0.2:50002", "10.0.0.9:1865")
		sbLogin(d, sb2, "alice@x", "c2")
		d.end(sb2)
	})
}

// TestJSONStreamCookieReuseRace gives the race detector the chance to see
// a reused cookie write into a session the encoder reads (go test -race).
func TestJSONStreamCookieReuseRace(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatNDJSON} {
		for _, nfill := range []int{254, 300} {
			for _, sleep := range []time.Duration{0, 20 * time.Millisecond} {
				out := NewOutput(io.Discard, Options{Format: f})
				d := &drv{a: dissect.NewAnalyzer(out, dissect.Limits{}), now: zt0}
				cookieReuse(d, nfill, sleep)
				out.Close(Capture{})
			}
		}
	}
}

// replayInterleaved runs all transcripts at once, events interleaved at
// random, sessions ended in random order, with random waits (some long).
func replayInterleaved(tb testing.TB, names []string, h dissect.Handler, seed uint64, sameIDs bool) {
	r := rand.New(rand.NewPCG(seed, 1))
	a := dissect.NewAnalyzer(h, dissect.Limits{})
	now := time.Date(2024, 9, 14, 13, 52, 40, 0, time.UTC)
	type run struct {
		tr   *dissect.Transcript
		i    int
		ss   []*dissect.Session
		port uint16
	}
	var runs []*run
	for k, name := range names {
		tr, err := dissect.ReadTranscript(name)
		if err != nil {
			tb.Fatal(err)
		}
		p := uint16(k)
		if sameIDs {
			p = 0
		}
		runs = append(runs, &run{tr: tr, ss: make([]*dissect.Session, len(tr.Conns)), port: p})
	}
	var all []*dissect.Session
	for {
		var live []*run
		for _, x := range runs {
			if x.i < len(x.tr.Events) {
				live = append(live, x)
			}
		}
		if len(live) == 0 {
			break
		}
		x := live[r.IntN(len(live))]
		e := x.tr.Events[x.i]
		x.i++
		now = now.Add(time.Millisecond)
		if r.IntN(20) == 0 {
			now = now.Add(time.Duration(r.IntN(90)) * time.Second)
		}
		s := x.ss[e.Conn]
		if s == nil {
			c := x.tr.Conns[e.Conn]
			server := netip.AddrPortFrom(c.Server.Addr(), c.Server.Port()+x.port)
			s = a.Open(dissect.ConnInfo{Client: c.Client, Server: server, Start: now, SYN: true, DetectedBy: "port"})
			x.ss[e.Conn] = s
			all = append(all, s)
		}
		s.Feed(e.Dir, now, bytes.Clone(e.Data))
		// sometimes end a random session early
		if r.IntN(200) == 0 {
			q := all[r.IntN(len(all))]
			now = now.Add(time.Millisecond)
			q.End(now, r.IntN(2) == 0)
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for _, s := range all {
		now = now.Add(time.Duration(r.IntN(40000)) * time.Millisecond)
		s.End(now, true)
	}
}

// TestJSONStreamInterleaved runs every transcript at once, interleaved at
// random, under spool sizes from none to 8 MiB.
func TestJSONStreamInterleaved(t *testing.T) {
	names, _ := filepath.Glob("../testdata/*.txt")
	capture := Capture{Packets: 10, Bytes: 1000, Anomalies: []Count{}}
	for seed := uint64(0); seed < 6; seed++ {
		for _, mem := range []int{8 << 20, 0, 1, 500, 3000, 20000, 100000} {
			for _, same := range []bool{false} {
				var got bytes.Buffer
				out := NewOutput(&got, Options{Format: FormatJSON})
				keep := &keepSessions{Handler: out}
				saved := spoolMemory
				spoolMemory = mem
				replayInterleaved(t, names, keep, seed, same)
				if err := out.Close(capture); err != nil {
					t.Fatal(err)
				}
				spoolMemory = saved
				var want bytes.Buffer
				writeJSON(&want, capture, keep.ss)
				if d := firstDiff(got.Bytes(), want.Bytes()); d != "" {
					t.Errorf("seed %d mem %d same %v: differs %s", seed, mem, same, d)
				}
			}
		}
	}
}

// Conversations starting at the same time are ordered by when their first
// session ended, even when one waited for a link.
func TestJSONStreamTiePending(t *testing.T) {
	compare(t, 8<<20, func(d *drv) {
		x := d.open("192.168.0.2:50002", "10.0.0.9:1865")
		y := d.open("192.168.0.3:50002", "10.0.0.9:1865")
		sbLogin(d, x, "alice@x", "c1")
		d.c(x, "CAL 2 bob@x")
		d.s(x, "CAL 2 RINGING 111")
		d.c(x, "XFR 3 SB")
		d.s(x, "XFR 3 SB 10.0.0.9:1865 CKI zzz") // a grant nobody uses: awaiting 1
		sbLogin(d, y, "carol@x", "c2")
		d.c(y, "CAL 2 dave@x")
		d.s(y, "CAL 2 RINGING 222")
		d.end(x)
		d.end(y)
	})
}
