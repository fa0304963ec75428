package reassembly

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// callLog records every Sink and Stream call as a line of text, in the
// order they were made.
type callLog struct {
	calls []string
	n     int
}

func (l *callLog) Open(c dissect.ConnInfo) Stream {
	l.n++
	l.calls = append(l.calls, fmt.Sprintf("open %d %v %v %v syn=%v %s#%d", l.n, c.Client, c.Server, c.Start, c.SYN, c.File, c.Packet))
	if l.n%7 == 0 {
		return nil // a connection the Sink does not want
	}
	return &logStream{l: l, id: l.n}
}

type logStream struct {
	l  *callLog
	id int
}

func (s *logStream) TimeJump(d dissect.Dir, t time.Time, ahead time.Duration) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("timejump %d %v %v %v", s.id, d, t.UnixNano(), ahead))
}

func (s *logStream) Feed(d dissect.Dir, t time.Time, b []byte) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("feed %d %v %v %q", s.id, d, t.UnixNano(), b))
	// The bytes are only lent: spoil them, as a careless Stream might
	// after the call.
	for i := range b {
		b[i] = '!'
	}
}

func (s *logStream) Gap(d dissect.Dir, t time.Time, n int) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("gap %d %v %v %d", s.id, d, t.UnixNano(), n))
}

func (s *logStream) End(t time.Time, closed bool) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("end %d %v %v", s.id, t.UnixNano(), closed))
}

// lossyCapture returns the packets of conns interleaved connections, with
// reordering, duplicates and lost segments, spread over a few minutes of
// packet time so that flushes and the idle timeout happen.
func lossyCapture(tb testing.TB, conns int) []pkt {
	pkts, _ := benchCapture(tb, conns, 30, 0.05)
	rng := rand.New(rand.NewPCG(3, 4))
	var out []pkt
	for _, p := range pkts {
		switch r := rng.Float64(); {
		case r < 0.01:
			continue // lost
		case r < 0.02:
			out = append(out, p, p) // retransmitted
		default:
			out = append(out, p)
		}
	}
	for i := range out {
		out[i].ts = t0.Add(time.Duration(i) * 7 * time.Millisecond)
	}
	// Damaged timestamps of packets alone (TimeJumper), some of them
	// ahead of holes, whose bytes a flush delivers.
	for i := len(out) / 5; i < len(out); i += len(out) / 5 {
		out[i].ts = out[i].ts.Add(100 * 365 * 24 * time.Hour)
	}
	// A gap of silence longer than the idle timeout, then more traffic.
	tail, _ := benchCapture(tb, 3, 5, 0)
	for i := range tail {
		tail[i].ts = out[len(out)-1].ts.Add(DefaultIdleTimeout + time.Minute + time.Duration(i)*time.Millisecond)
	}
	return append(out, tail...)
}

// runLogged runs the files through run and returns the calls, the stats
// and the error text.
func runLogged(t *testing.T, pipelined bool, paths ...string) ([]string, Stats, string) {
	t.Helper()
	var srcs []*Source
	for _, p := range paths {
		s, err := Open(p, nil)
		if err != nil {
			t.Fatalf("Open(%q) = %v", p, err)
		}
		defer s.Close()
		srcs = append(srcs, s)
	}
	log := &callLog{}
	e := NewEngine(log, Options{})
	err := run(srcs, e, pipelined)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return log.calls, e.Stats(), msg
}

// TestPipelineSameCalls checks that the pipelined Run makes exactly the
// calls of the single-goroutine Run: same order, bytes, times, stats and
// errors.
func TestPipelineSameCalls(t *testing.T) {
	dir := t.TempDir()
	pkts := lossyCapture(t, 60)
	var fromClient, fromServer []pkt
	for _, p := range pkts {
		if isFromClient(t, p) {
			fromClient = append(fromClient, p)
		} else {
			fromServer = append(fromServer, p)
		}
	}
	one := writePcap(t, dir, "one.pcap", layers.LinkTypeEthernet, pkts)
	a := writePcap(t, dir, "a.pcap", layers.LinkTypeEthernet, fromClient)
	b := writePcap(t, dir, "b.pcap", layers.LinkTypeEthernet, fromServer)
	// A file cut in its last record: an error after its other packets.
	raw, err := os.ReadFile(one)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, raw[:len(raw)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		paths   []string
		wantErr bool
	}{
		{"one file", []string{one}, false},
		{"two taps", []string{b, a}, false},
		{"damaged file", []string{cut}, true},
		{"no files", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serial, sst, serr := runLogged(t, false, tt.paths...)
			piped, pst, perr := runLogged(t, true, tt.paths...)
			if diff := cmp.Diff(serial, piped); diff != "" {
				t.Errorf("pipelined calls differ (-serial +pipelined):\n%s", diff)
			}
			if sst != pst {
				t.Errorf("stats differ:\nserial    %+v\npipelined %+v", sst, pst)
			}
			if serr != perr || (serr != "") != tt.wantErr {
				t.Errorf("errors: serial %q, pipelined %q; want an error: %v", serr, perr, tt.wantErr)
			}
			if len(tt.paths) > 0 && (sst.Gaps == 0 || sst.Connections < 60) {
				t.Errorf("the capture should have gaps and 60+ connections: %+v", sst)
			}
			if jumps := slices.IndexFunc(serial, func(c string) bool { return strings.HasPrefix(c, "timejump ") }); tt.name == "one file" && (jumps < 0 || sst.TimestampJumps == 0) {
				t.Errorf("no TimeJump call (%d lone jumps): the capture should have damaged timestamps on bytes", sst.TimestampJumps)
			}
		})
	}
}

// TestFlushOrder checks that what a flush delivers comes stream by stream
// in the order the streams were opened, not in the order of gopacket's
// connection map.
func TestFlushOrder(t *testing.T) {
	const n = 40
	var pkts []pkt
	for i := range n {
		c := newConv(t, fmt.Sprintf("10.1.%d.%d:%d", i/200, i%200+1, 2000+i), server, uint32(1000*i), 5000)
		c.step = time.Millisecond
		c.ts = t0.Add(time.Duration(i) * time.Millisecond)
		p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC)})
		c.skip(dissect.C2S, 10)
		pkts = append(pkts, join(p, []pkt{c.seg(dissect.C2S, "PA", cvrC)})...)
	}
	// Packets of a last connection, a minute later, trigger the flush.
	late := newConv(t, "10.9.9.9:3000", server, 1, 1)
	late.ts = t0.Add(time.Minute)
	pkts = append(pkts, late.handshake()...)
	log := &callLog{}
	e := NewEngine(log, Options{})
	for i, p := range pkts {
		e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "f", int64(i+1))
	}
	var gaps []string
	for _, c := range log.calls {
		if strings.HasPrefix(c, "gap ") {
			gaps = append(gaps, strings.Fields(c)[1])
		}
	}
	var want []string
	for i := 1; i <= n; i++ {
		if i%7 != 0 {
			want = append(want, fmt.Sprint(i))
		}
	}
	if diff := cmp.Diff(want, gaps); diff != "" {
		t.Errorf("gaps by stream (-want +got):\n%s", diff)
	}
}

// TestLateAfterClose checks what follows a connection that closed with
// FINs: its last ACKs and retransmissions are late, a SYN on the same
// addresses and ports starts a new connection, and after IdleTimeout the
// connection is forgotten (its data then opens a connection caught
// mid-stream).
func TestLateAfterClose(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	hs := c.handshake()
	data := c.seg(dissect.C2S, "PA", verC)
	pkts := join(hs, []pkt{data}, c.close())
	again := data
	again.ts = c.ts
	ack := c.seg(dissect.C2S, "A", "")
	pkts = append(pkts, again, ack)
	c.ts = c.ts.Add(time.Second)
	n := newConv(t, client, server, 90000, 7000)
	n.ts = c.ts
	nhs := n.handshake()
	pkts = join(pkts, nhs, []pkt{n.seg(dissect.C2S, "PA", cvrC)}, n.close())
	// Long after: a packet of the second connection, then enough traffic
	// elsewhere for a flush to forget it.
	other := newConv(t, "10.0.0.1:2000", "10.0.0.2:1863", 1, 1)
	other.ts = n.ts.Add(DefaultIdleTimeout + time.Minute)
	stale := n.seg(dissect.C2S, "PA", usrC)
	stale.ts = other.ts.Add(DefaultFlushInterval + time.Second)
	ohs := other.handshake()
	pkts = join(pkts, ohs, []pkt{other.seg(dissect.C2S, "PA", verC)}, []pkt{stale})
	sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, pkts)
	if len(sink.streams) != 4 {
		t.Fatalf("got %d streams, want 4 (first, after the SYN, other, stale)", len(sink.streams))
	}
	checkStream(t, sink.streams[0], want{c2s: verC, syn: true, closed: true})
	checkStream(t, sink.streams[1], want{c2s: cvrC, syn: true, closed: true})
	if got := string(sink.streams[3].data[dissect.C2S]); got != usrC || sink.streams[3].info.SYN {
		t.Errorf("stale packet opened a stream with %q, SYN %v; want %q caught mid-stream", got, sink.streams[3].info.SYN, usrC)
	}
	// The retransmission and the ACK of the first connection, and the
	// last ACK of each close.
	if st.Late != 4 || st.Stray != 0 {
		t.Errorf("Late %d Stray %d, want 4 and 0", st.Late, st.Stray)
	}
}

// TestClosedConnsBounded checks that the memory of closed connections keeps
// at most maxClosedConns, forgetting the oldest.
func TestClosedConnsBounded(t *testing.T) {
	var c closedConns
	key := func(i int) connKey { return connKey{pa: uint16(i), pb: uint16(i >> 16), v6: i%2 == 0} }
	for i := range maxClosedConns + 10 {
		c.add(key(i), t0.Add(time.Duration(i)))
	}
	if c.len() != maxClosedConns {
		t.Errorf("remembers %d, want %d", c.len(), maxClosedConns)
	}
	if c.late(key(0), false, t0) || !c.late(key(maxClosedConns+9), false, t0) {
		t.Error("the oldest should be forgotten, the newest remembered")
	}
	c.expire(t0.Add(time.Duration(maxClosedConns + 9)))
	if c.len() != 1 { // the newest, last seen at the expiry time
		t.Errorf("after expiry remembers %d, want 1", c.len())
	}
}

// TestFINBehindHole checks that a connection whose FINs were seen both ways
// but whose last bytes before a FIN were lost ends once the reorder window
// has passed, with the lost bytes as a Gap, instead of at the idle timeout.
// It ends at the server's FIN, the packet that closed it, not at the
// client's last ACK after it.
func TestFINBehindHole(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	hs := c.handshake()
	data := c.seg(dissect.C2S, "PA", verC)
	c.skip(dissect.C2S, 10) // lost before the client's FIN
	fin := c.close()
	// Another connection goes on for a minute.
	o := newConv(t, "10.0.0.1:2000", "10.0.0.2:1863", 1, 1)
	o.ts = c.ts
	o.step = time.Second
	pkts := join(hs, []pkt{data}, fin, o.handshake())
	for range 60 {
		pkts = append(pkts, o.seg(dissect.C2S, "PA", "PNG\r\n"))
	}
	log := &callLog{}
	e := NewEngine(log, Options{})
	for i, p := range pkts {
		e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "f", int64(i+1))
	}
	closing := fin[1].ts // the second FIN; fin[2] is the last ACK
	end := fmt.Sprintf("end 1 %v true", closing.UnixNano())
	gap := fmt.Sprintf("gap 1 c2s %v 10", closing.UnixNano())
	if !slices.Contains(log.calls, end) || !slices.Contains(log.calls, gap) {
		t.Fatalf("before Finish, want %q and %q; calls:\n%s", gap, end, strings.Join(log.calls, "\n"))
	}
	e.Finish(o.ts)
	if st := e.Stats(); st.GapBytes != 10 || st.Connections != 2 {
		t.Errorf("GapBytes %d Connections %d, want 10 and 2", st.GapBytes, st.Connections)
	}
}
