package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/internal/capgen"
)

// tcpPayload returns the TCP payload of an Ethernet/IPv4 frame made by
// capgen, or nil.
func tcpPayload(frame []byte) []byte {
	if len(frame) < 14+20 || frame[12] != 0x08 || frame[13] != 0x00 {
		return nil
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+20 || ip[9] != 6 {
		return nil
	}
	tcp := ip[ihl:]
	off := int(tcp[12]>>4) * 4
	if len(tcp) < off {
		return nil
	}
	return tcp[off:]
}

// packetWith returns the index of the packet that carries byte k of the
// first occurrence of s in any one direction of a TCP connection (s may
// span packets), failing the test when s is not there. Duplicates are not
// expected: the captures here are generated without them.
func packetWith(t *testing.T, pkts []capgen.Packet, s string, k int) int {
	t.Helper()
	type stream struct {
		data []byte
		idx  []int
	}
	streams := map[string]*stream{}
	for i, p := range pkts {
		pay := tcpPayload(p.Data)
		if len(pay) == 0 {
			continue
		}
		ip := p.Data[14:]
		tcp := ip[int(ip[0]&0x0f)*4:]
		key := string(ip[12:20]) + string(tcp[0:4])
		st := streams[key]
		if st == nil {
			st = &stream{}
			streams[key] = st
		}
		for range pay {
			st.idx = append(st.idx, i)
		}
		st.data = append(st.data, pay...)
	}
	best := -1
	for _, st := range streams {
		if j := bytes.Index(st.data, []byte(s)); j >= 0 && j+k < len(st.data) {
			if i := st.idx[j+k]; best < 0 || i < best {
				best = i
			}
		}
	}
	if best < 0 {
		t.Fatalf("no packet carries %q", s)
	}
	return best
}

// writePackets writes pkts as an Ethernet pcap file, with snapshot length
// snap, at dir/name and returns its path.
func writePackets(t *testing.T, dir, name string, snap int, pkts []capgen.Packet) string {
	t.Helper()
	var b bytes.Buffer
	if err := capgen.WritePcap(&b, capgen.Ethernet, snap, pkts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func without(pkts []capgen.Packet, drop ...int) []capgen.Packet {
	var out []capgen.Packet
	for i, p := range pkts {
		keep := true
		for _, d := range drop {
			if i == d {
				keep = false
			}
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

// TestDamagedCaptures cuts the msnp7 capture in the ways archived captures
// are damaged. Each case's NDJSON output (every command recovered and each
// anomaly, exactly once) is a golden file in testdata/damaged/.
func TestDamagedCaptures(t *testing.T) {
	tr := readTranscript(t, "msnp7-login")
	gen := func(opt capgen.Options) []capgen.Packet {
		p, err := capgen.Packets(tr, opt)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		pkts func(t *testing.T) []capgen.Packet
		// lost lists lines that must not be recovered; every other
		// command line of the transcript must be.
		lost []string
		snap int
	}{
		{"lost-inside-line", func(t *testing.T) []capgen.Packet {
			p := gen(capgen.Options{Segment: 10})
			return without(p, packetWith(t, p, "ADG 10 New%20Group%201 0", 12))
		}, []string{"ADG 10 New%20Group%201 0"}, 0},
		{"lost-inside-payload", func(t *testing.T) []capgen.Packet {
			p := gen(capgen.Options{Segment: 100})
			return without(p, packetWith(t, p, "lang_preference", 0))
		}, nil, 0},
		{"lost-between-commands", func(t *testing.T) []capgen.Packet {
			p := gen(capgen.Options{})
			return without(p, packetWith(t, p, "REG 11 2 Cool", 0))
		}, []string{"REG 11 2 Cool%20People 0"}, 0},
		{"cut-after-handshake", func(t *testing.T) []capgen.Packet {
			p := gen(capgen.Options{})
			return p[:packetWith(t, p, "VER 4 MSNP7", 0)]
		}, []string{"VER 4", "*"}, 0},
		{"cut-inside-line", func(t *testing.T) []capgen.Packet {
			p := gen(capgen.Options{Segment: 7})
			return p[:packetWith(t, p, "CHG 9", 0)+1]
		}, []string{"CHG 9 NLN", "*"}, 0},
		{"cut-inside-payload", func(t *testing.T) []capgen.Packet {
			p := gen(capgen.Options{Segment: 100})
			return p[:packetWith(t, p, "lang_preference", 0)+1]
		}, []string{"C: SYN 8 8", "*"}, 0},
		{"mid-stream-start", func(t *testing.T) []capgen.Packet {
			p := gen(capgen.Options{Segment: 50, NoHandshake: true})
			// The capture starts inside the NS session's profile payload.
			return p[packetWith(t, p, "MemberIdHigh", 0):]
		}, []string{"VER 1", "INF 2", "USR 3", "XFR 3", "VER 4", "INF 5", "USR 6", "USR 7", "MSG Hotmail"}, 0},
		{"snaplen-64", func(t *testing.T) []capgen.Packet { return gen(capgen.Options{}) }, nil, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkts := tt.pkts(t)
			snap := 262144
			if tt.snap > 0 {
				snap = tt.snap
				for i := range pkts {
					if len(pkts[i].Data) > snap {
						pkts[i].Data = pkts[i].Data[:snap]
					}
				}
			}
			path := writePackets(t, t.TempDir(), tt.name+".pcap", snap, pkts)
			out, stderr, code := runCLI(t, nil, "-T", "ndjson", "-q", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			out = strings.ReplaceAll(out, path, tt.name+".pcap")
			checkGolden(t, testdata+"damaged/"+tt.name+".ndjson.golden", out)
			tx, _, _ := runCLI(t, nil, "-T", "transcript", "--no-redact", path)
			if tt.snap > 0 {
				return
			}
			// Every command line the damage did not touch is recovered.
			text, _ := os.ReadFile(testdata + "msnp7-login.txt")
			cut := false
			for _, line := range strings.Split(string(text), "\n") {
				if !strings.HasPrefix(line, "C: ") && !strings.HasPrefix(line, "S: ") {
					continue
				}
				lost := false
				for _, l := range tt.lost {
					if l == "*" && cut {
						lost = true
					}
					if strings.Contains(line, l) && l != "*" {
						lost, cut = true, true
					}
				}
				if !lost && !strings.Contains(tx, line+"\n") {
					t.Errorf("%q was not recovered", line)
				}
			}
		})
	}
}

// TestTimestampJumpReport adds to the msnp7 capture, in the middle of the
// notification session, a retransmission of the client's CHG whose record
// time was damaged to 2100. It carries no new bytes, so the report must be
// the undamaged capture's but for the capture's last packet time and a
// timestamp_jump anomaly: no session cut in two, ended early or left open
// by a clock that jumped 76 years ahead.
func TestTimestampJumpReport(t *testing.T) {
	tr := readTranscript(t, "msnp7-login")
	pkts, err := capgen.Packets(tr, capgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	chg := packetWith(t, pkts, "CHG 9 NLN", 0)
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	again := pkts[chg]
	again.Time = far
	damaged := slices.Insert(slices.Clone(pkts), chg+1, again)
	dir := t.TempDir()
	report := func(name string, p []capgen.Packet) map[string]any {
		t.Helper()
		path := writePackets(t, dir, name, 262144, p)
		out, stderr, code := runCLI(t, nil, "-T", "json", "-q", path)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	want := report("clean.pcap", pkts)
	got := report("damaged.pcap", damaged)
	capture, wantCapture := got["capture"].(map[string]any), want["capture"].(map[string]any)
	if last, _ := capture["last"].(string); last != far.Format("2006-01-02T15:04:05.000000Z") {
		t.Errorf("capture.last = %v, want the damaged packet's time", capture["last"])
	}
	jumps := []any{map[string]any{"name": "timestamp_jump", "count": float64(1)}}
	if diff := cmp.Diff(jumps, capture["anomalies"]); diff != "" {
		t.Errorf("capture.anomalies (-want +got):\n%s", diff)
	}
	for _, k := range []string{"connections", "skipped", "errors"} {
		if diff := cmp.Diff(wantCapture[k], capture[k]); diff != "" {
			t.Errorf("capture.%s differs from the undamaged capture's (-want +got):\n%s", k, diff)
		}
	}
	delete(got, "capture")
	delete(want, "capture")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report differs from the undamaged capture's (-want +got):\n%s", diff)
	}

	// The packet that carries CHG itself in 2100: CHG keeps that time,
	// and its session says why (jumped_timestamp).
	moved := slices.Clone(pkts)
	moved[chg].Time = far
	doc := report("moved.pcap", moved)
	capture = doc["capture"].(map[string]any)
	kinds := []any{
		map[string]any{"name": "jumped_timestamp", "count": float64(1)},
		map[string]any{"name": "timestamp_jump", "count": float64(1)},
	}
	if diff := cmp.Diff(kinds, capture["anomalies"]); diff != "" {
		t.Errorf("capture.anomalies (-want +got):\n%s", diff)
	}
	var found []string
	for _, s := range doc["sessions"].([]any) {
		for _, a := range s.(map[string]any)["anomalies"].([]any) {
			a := a.(map[string]any)
			found = append(found, fmt.Sprintf("session %v: %v %v %v", s.(map[string]any)["id"], a["kind"], a["time"], a["dir"]))
			if d, _ := a["detail"].(string); !strings.Contains(d, "after the capture's clock, alone (taken for a damaged timestamp)") {
				t.Errorf("detail %q", d)
			}
		}
	}
	wantFound := []string{"session 2: jumped_timestamp 2100-01-01T00:00:00.000000Z c2s"}
	if diff := cmp.Diff(wantFound, found); diff != "" {
		t.Errorf("session anomalies (-want +got):\n%s", diff)
	}
}
