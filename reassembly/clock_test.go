package reassembly

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// TestTimestampJump runs a capture with one damaged packet time through a
// pcap file and Run: connection A pings its server every half second for
// a minute and closes, connection C says one line at the start and falls
// silent. A lone packet far from the capture's time must not move the
// clock the waits follow (a jump of 95 years would end every connection
// as idle at the next flush), yet is dissected with its own time and
// counted; a capture paused for hours, whose packets go on from the new
// time, is followed as before.
func TestTimestampJump(t *testing.T) {
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	type end struct {
		Closed bool
		At     time.Time
	}
	tests := []struct {
		name string
		// damage changes the capture; mid is the index of a packet of
		// A in the middle of the minute, last that of the capture's last.
		damage func(p []pkt, mid, last int) []pkt
		// want gives the streams' Ends from the times of A's second FIN,
		// C's last packet, A's last packet before mid, and the capture's
		// last.
		want  func(fin, cLast, aBefore, last time.Time) []end
		jumps int64
		// bogus is the time a Feed of A or C must carry, when set.
		bogus time.Time
		// synOfA damages A's SYN instead: A must start at the clock,
		// C's last packet, not in 2100.
		synOfA bool
		// holeGap: a Gap at the bogus time comes right after the jump is
		// told, before its Feed.
		holeGap bool
	}{
		{
			name:   "undamaged",
			damage: func(p []pkt, mid, last int) []pkt { return p },
			want: func(fin, cLast, aBefore, last time.Time) []end {
				return []end{{false, last}, {true, fin}}
			},
		},
		{
			name: "one packet in 2100",
			damage: func(p []pkt, mid, last int) []pkt {
				p[mid].ts = far
				return p
			},
			want: func(fin, cLast, aBefore, last time.Time) []end {
				return []end{{false, last}, {true, fin}}
			},
			jumps: 1,
			bogus: far,
		},
		{
			name:   "SYN of A in 2100",
			damage: func(p []pkt, mid, last int) []pkt { return p },
			want: func(fin, cLast, aBefore, last time.Time) []end {
				return []end{{false, last}, {true, fin}}
			},
			jumps:  1,
			synOfA: true,
		},
		{
			name: "last packet in 2100",
			damage: func(p []pkt, mid, last int) []pkt {
				p[last].ts = far
				return p
			},
			want: func(fin, cLast, aBefore, last time.Time) []end {
				// The last ACK of A's close: the capture's clock
				// stops at the FIN before it.
				return []end{{false, fin}, {true, fin}}
			},
			jumps: 1,
		},
		{
			// The packet before it lost: its bytes come after a hole, at
			// a flush, and the Gap carries its time too.
			name: "one packet in 2100 after a hole",
			damage: func(p []pkt, mid, last int) []pkt {
				p[mid].ts = far
				return slices.Delete(p, mid-2, mid-1)
			},
			want: func(fin, cLast, aBefore, last time.Time) []end {
				return []end{{false, last}, {true, fin}}
			},
			jumps:   1,
			bogus:   far,
			holeGap: true,
		},
		{
			name: "one packet in 1970",
			damage: func(p []pkt, mid, last int) []pkt {
				p[mid].ts = time.Unix(0, 0).UTC()
				return p
			},
			want: func(fin, cLast, aBefore, last time.Time) []end {
				return []end{{false, last}, {true, fin}}
			},
			jumps: 1,
			bogus: time.Unix(0, 0).UTC(),
		},
		{
			name: "first packet in 2100",
			damage: func(p []pkt, mid, last int) []pkt {
				p[0].ts = far
				return p
			},
			want: func(fin, cLast, aBefore, last time.Time) []end {
				// C's SYN: C starts there, but the capture's time
				// goes on from the packets after it.
				return []end{{false, far}, {true, fin}}
			},
			jumps: 1,
		},
		{
			name: "capture paused for 3 hours",
			damage: func(p []pkt, mid, last int) []pkt {
				for i := mid; i < len(p); i++ {
					p[i].ts = p[i].ts.Add(3 * time.Hour)
				}
				return p
			},
			want: func(fin, cLast, aBefore, last time.Time) []end {
				// As before the change: the first flush after the
				// pause ends both as idle at their last packets, and
				// A goes on as a connection caught mid-stream.
				pause := 3 * time.Hour
				return []end{{false, cLast}, {false, aBefore}, {true, fin.Add(pause)}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := newConv(t, "192.168.0.3:50001", server, 7000, 8000)
			p := join(cc.handshake(), []pkt{cc.seg(dissect.C2S, "PA", verC)})
			cLast := p[len(p)-1].ts
			a := newConv(t, client, server, 1000, 5000)
			a.ts = cc.ts
			syn := len(p)
			p = append(p, a.handshake()...)
			if tt.synOfA {
				p[syn].ts = far
			}
			a.step = 500 * time.Millisecond
			mid := 0
			for i := range 60 {
				if i == 30 {
					mid = len(p)
				}
				p = append(p, a.seg(dissect.C2S, "PA", "PNG\r\n"), a.seg(dissect.S2C, "PA", "QNG 50\r\n"))
			}
			aBefore := p[mid-1].ts
			a.step = 10 * time.Millisecond
			p = append(p, a.close()...)
			fin := p[len(p)-2].ts
			last := p[len(p)-1].ts
			p = tt.damage(p, mid, len(p)-1)

			sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, p)
			var got []end
			for _, s := range sink.streams {
				got = append(got, end{s.closed, s.endT})
			}
			if diff := cmp.Diff(tt.want(fin, cLast, aBefore, last), got); diff != "" {
				t.Errorf("Ends (-want +got):\n%s", diff)
			}
			if tt.synOfA && !sink.streams[1].info.Start.Equal(cLast) {
				t.Errorf("A starts at %v, want %v (the clock then)", sink.streams[1].info.Start, cLast)
			}
			if st.TimestampJumps != tt.jumps {
				t.Errorf("TimestampJumps = %d, want %d", st.TimestampJumps, tt.jumps)
			}
			if !tt.bogus.IsZero() {
				found := false
				for _, s := range sink.streams {
					for _, f := range s.feeds {
						found = found || f.t.Equal(tt.bogus)
					}
				}
				if !found {
					t.Errorf("no Feed at %v: the packet was not dissected with its own time", tt.bogus)
				}
			}
			// Its bytes, and only they, are told to be at a damaged time,
			// just before their Feed.
			var jumps []string
			for _, s := range sink.streams {
				for _, j := range s.jumps {
					jumps = append(jumps, fmt.Sprintf("%v %v", j.t, j.dir))
				}
			}
			var wantJumps []string
			if !tt.bogus.IsZero() {
				wantJumps = []string{fmt.Sprintf("%v %v", tt.bogus, dissect.C2S)}
			}
			if diff := cmp.Diff(wantJumps, jumps); diff != "" {
				t.Errorf("TimeJump calls (-want +got):\n%s", diff)
			}
			if tt.holeGap {
				a := sink.streams[1].events
				i := slices.Index(a, "timejump")
				if i < 0 || i+2 >= len(a) || !strings.HasPrefix(a[i+1], "c2s gap ") || !strings.HasPrefix(a[i+2], `c2s "`) {
					t.Errorf("events of A %q: want the jump told, then the Gap, then the Feed", a)
				}
			}
			if got := fmt.Sprint(st.Anomalies()); tt.jumps > 0 && got != fmt.Sprintf("[{timestamp_jump %d}]", tt.jumps) {
				t.Errorf("Anomalies() = %s", got)
			}
		})
	}
}
