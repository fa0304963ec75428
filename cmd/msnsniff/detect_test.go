package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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
	// Detection reads the first data segment of a connection: the first
	// command line must be whole in it, as clients send it.
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
