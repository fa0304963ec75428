package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
	"github.com/msnsniff/msnsniff/report"
)

// TestDetectOtherPorts moves the msnp7 example's servers to ports 443
// (found by content) and 80 (a gateway port, where the connection turns
// out to carry MSNP itself, not HTTP): the commands are those of the
// shipped capture, the sessions say how they were found, and --no-detect
// turns the detection off.
func TestDetectOtherPorts(t *testing.T) {
	text, err := os.ReadFile(testdata + "msnp7-login.txt")
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.NewReplacer("10.0.0.1:1863", "10.0.0.1:443", "10.0.0.5:1863", "10.0.0.5:80").Replace(string(text))
	tr, err := dissect.ParseTranscript([]byte(moved))
	if err != nil {
		t.Fatal(err)
	}
	// Whole first lines, as clients send them; TestDetectSegmented cuts
	// them into pieces.
	pcap := generate(t, tr, capgen.Options{}, false)
	path := filepath.Join(t.TempDir(), "moved.pcap")
	if err := os.WriteFile(path, pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	// The same capture read with both ports named is the reference.
	want := commandsOf(t, pcap, "--port", "443", "--port", "80", "--no-gateway", "--no-detect")
	got := commandsOf(t, pcap)
	if len(want) < 40 {
		t.Fatalf("reference has %d commands", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands found by content differ from those read by port (-port +content):\n%s", diff)
	}
	out, stderr, code := runCLI(t, nil, "-T", "json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Sessions) != 2 {
		t.Fatalf("%d sessions", len(r.Sessions))
	}
	for i, want := range []struct{ server, kind string }{{"10.0.0.1:443", "dispatch"}, {"10.0.0.5:80", "notification"}} {
		s := r.Sessions[i]
		if s.Server != want.server || s.Kind != want.kind || s.DetectedBy != "content" || s.Partial || s.Transport != "tcp" {
			t.Errorf("session %d: server %s kind %s detected_by %s partial %v transport %s", s.ID, s.Server, s.Kind, s.DetectedBy, s.Partial, s.Transport)
		}
	}
	if r.Sessions[1].Parent == nil || *r.Sessions[1].Parent != 1 {
		t.Errorf("the NS session on port 80 is not linked to the referral")
	}
	out, _, _ = runCLI(t, nil, "-T", "json", "--no-detect", "--no-gateway", path)
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Sessions) != 0 {
		t.Errorf("--no-detect --no-gateway: %d sessions (%v)", len(r.Sessions), err)
	}
}

// otherConn is a connection that is not MSNP, put on another port in
// front of the transcripts of TestDetectSegmented: a line protocol of its
// own (the transcript form takes only lines that start with a verb-like
// word).
const otherConn = `@conn 192.168.0.7:40000 10.0.0.80:8088
C: GET /index.html HTTP/1.1
C: HDR Host www.example.com
S: RSP HTTP/1.1 200 OK
S: DAT some text, not MSNP
`

// TestDetectSegmented moves the servers of shipped transcripts to ports
// 8080 and 8081, where they are found by content, cuts the captures into
// small, reordered, duplicated segments and checks that every command and
// anomaly, with its time, is that of the same capture with the servers on
// the MSNP ports: detection holds the first packets of each connection
// until its first line is in, and assembles them afterwards. An HTTP
// connection of another protocol cut the same way is not detected, and its packets are
// counted as other_port; --no-detect finds nothing.
func TestDetectSegmented(t *testing.T) {
	onConn := regexp.MustCompile(`(?m)^(@conn \S+ \S+):(1863|1865)$`)
	move := func(text string) string {
		return onConn.ReplaceAllStringFunc(text, func(l string) string {
			return strings.NewReplacer(":1863", ":8080", ":1865", ":8081").Replace(l)
		})
	}
	parse := func(text string) *dissect.Transcript {
		tr, err := dissect.ParseTranscript([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	write := func(pkts []capgen.Packet) string {
		return writePackets(t, t.TempDir(), "c.pcap", 0, pkts)
	}
	for _, name := range []string{"msnp7-login", "msnp2-chat"} {
		text, err := os.ReadFile(testdata + name + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		orig := otherConn + string(text)
		moved := move(orig)
		if moved == orig || strings.Count(moved, ":8080\n") < 2 {
			t.Fatalf("%s: servers not moved", name)
		}
		for _, tc := range []struct {
			name string
			opt  capgen.Options
			// drop returns the packet to leave out, or -1.
			drop func(p []capgen.Packet) int
		}{
			{"3-byte segments", capgen.Options{Segment: 3}, nil},
			{"3-byte segments reordered and duplicated", capgen.Options{Segment: 3, Reorder: 0.5, Duplicate: 0.2, Seed: 7}, nil},
			{"1-byte segments reordered, wrapping", capgen.Options{Segment: 1, Reorder: 0.3, Seed: 8, WrapSeq: true}, nil},
			{"first segment lost", capgen.Options{Segment: 3}, func(p []capgen.Packet) int { return packetWith(t, p, "VER 1 MSNP", 0) }},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				gen := func(text string) (string, []capgen.Packet) {
					p, err := capgen.Packets(parse(text), tc.opt)
					if err != nil {
						t.Fatal(err)
					}
					if tc.drop != nil {
						p = without(p, tc.drop(p))
					}
					return write(p), p
				}
				refPath, _ := gen(orig)
				path, pkts := gen(moved)
				want, wantS := detectRecords(t, refPath)
				got, gotS := detectRecords(t, path)
				if len(want) < 40 {
					t.Fatalf("reference has %d records", len(want))
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("commands found by content differ from those on the MSNP ports (-port +content):\n%s", diff)
				}
				if len(gotS.Sessions) != len(wantS.Sessions) {
					t.Fatalf("%d sessions, want %d", len(gotS.Sessions), len(wantS.Sessions))
				}
				for i, s := range gotS.Sessions {
					w := wantS.Sessions[i]
					if s.DetectedBy != "content" || w.DetectedBy != "port" || s.Partial != w.Partial || s.Start != w.Start || s.Client != w.Client ||
						s.Kind != w.Kind || s.Server == w.Server || !strings.HasPrefix(s.Server, strings.TrimSuffix(strings.TrimSuffix(w.Server, "1863"), "1865")) {
						t.Errorf("session %d: %+v\nwant like %+v", s.ID, s, w)
					}
				}
				// The other connection's packets are all other_port, in
				// the reference and here.
				http := 0
				for _, p := range pkts {
					if ip := p.Data[14:]; len(ip) >= 24 && (binary.BigEndian.Uint16(ip[20:22]) == 8088 || binary.BigEndian.Uint16(ip[22:24]) == 8088) {
						http++
					}
				}
				if http < 20 || otherPort(gotS) != http || otherPort(wantS) != http {
					t.Errorf("other_port %d (reference %d), want the %d packets of the other connection", otherPort(gotS), otherPort(wantS), http)
				}
				out, _, _ := runCLI(t, nil, "-T", "json", "--no-detect", path)
				var r report.Report
				if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Sessions) != 0 {
					t.Errorf("--no-detect: %d sessions (%v)", len(r.Sessions), err)
				}
			})
		}
	}
}

// detectRecords returns the command and anomaly records of the capture
// at path (NDJSON lines, as written) and its JSON report.
func detectRecords(t *testing.T, path string) ([]string, report.Report) {
	t.Helper()
	out, stderr, code := runCLI(t, nil, append([]string{"-T", "ndjson", path}, sbPorts...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var recs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"type":"command"`) || strings.HasPrefix(l, `{"type":"anomaly"`) {
			recs = append(recs, l)
		}
	}
	out, stderr, code = runCLI(t, nil, append([]string{"-T", "json", path}, sbPorts...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return recs, r
}

// otherPort returns the report's other_port count.
func otherPort(r report.Report) int {
	for _, c := range r.Capture.Skipped {
		if c.Name == "other_port" {
			return int(c.Count)
		}
	}
	return -1
}
