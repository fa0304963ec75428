package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/internal/capgen"
	"github.com/msnsniff/msnsniff/report"
)

func str(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestMSNP7Report checks the facts the end-to-end issue names, on the
// shipped capture of the msnp7.md example.
func TestMSNP7Report(t *testing.T) {
	out, stderr, code := runCLI(t, nil, "-T", "json", testdata+"msnp7-login.pcap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.SchemaVersion != report.SchemaVersion || len(r.Sessions) != 2 {
		t.Fatalf("schema %d, %d sessions", r.SchemaVersion, len(r.Sessions))
	}
	ds, ns := r.Sessions[0], r.Sessions[1]
	if ds.Kind != "dispatch" || ds.Server != "10.0.0.1:1863" || !ds.Closed {
		t.Errorf("dispatch session: %+v", ds)
	}
	if len(ds.Redirects) != 1 || ds.Redirects[0].Type != "NS" || ds.Redirects[0].To != "10.0.0.5:1863" ||
		str(ds.Redirects[0].From) != "10.0.0.1:1863" || ds.Redirects[0].TrID != 3 || ds.Redirects[0].Session == nil || *ds.Redirects[0].Session != ns.ID {
		t.Errorf("redirects: %+v", ds.Redirects)
	}
	if ns.Kind != "notification" || ns.Server != "10.0.0.5:1863" || ns.Parent == nil || *ns.Parent != ds.ID {
		t.Errorf("notification session: kind %s server %s parent %v", ns.Kind, ns.Server, ns.Parent)
	}
	if diff := cmp.Diff([]string{"MSNP7", "MSNP6", "MSNP5", "MSNP4", "CVR0"}, ns.Version.Offered); diff != "" || str(ns.Version.Selected) != "MSNP7" {
		t.Errorf("version: %+v %s", ns.Version, diff)
	}
	if a := ns.Auth; a == nil || a.Method != "MD5" || a.User != "example@hotmail.com" || a.Result != "ok" || a.ErrorCode != nil {
		t.Errorf("auth: %+v", ns.Auth)
	}
	type op struct{ Op, Group, Name, Contact, Status string }
	var ops []op
	for _, g := range ns.GroupOps {
		ops = append(ops, op{g.Op, str(g.GroupID), str(g.Name), str(g.Contact), g.Status})
	}
	want := []op{
		{"ADG", "2", "New Group 1", "<nil>", "ok"},
		{"REG", "2", "Cool People", "<nil>", "ok"},
		{"ADD", "2", "Cool People", "anotheruser@hotmail.com", "ok"},
		{"REM", "2", "Cool People", "anotheruser@hotmail.com", "ok"},
		{"RMG", "2", "Cool People", "<nil>", "ok"},
	}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("group ops (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]report.Group{{ID: "0", Name: "Other Contacts"}, {ID: "1", Name: "Friends"}}, ns.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	for _, s := range r.Sessions {
		for _, tx := range s.Transactions {
			if tx.Status != "ok" || tx.LatencyUS == nil {
				t.Errorf("session %d transaction %d %s: %s", s.ID, tx.TrID, tx.Verb, tx.Status)
			}
		}
		if len(s.Anomalies) != 0 || len(s.Errors) != 0 {
			t.Errorf("session %d: anomalies %v errors %v", s.ID, s.Anomalies, s.Errors)
		}
	}
}

// TestMergeFiles splits the capture into two files, one pcap and one
// pcapng, one connection each: read together they give the report of the
// single file.
func TestMergeFiles(t *testing.T) {
	tr := readTranscript(t, "msnp7-login")
	pkts, err := capgen.Packets(tr, capgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The dispatch connection is the first 10.0.0.1 one: split by server
	// address bytes in the IPv4 header (Ethernet + 16 = destination or
	// source).
	var a, b []capgen.Packet
	ds := []byte{10, 0, 0, 1}
	for _, p := range pkts {
		if bytes.Equal(p.Data[14+12:14+16], ds) || bytes.Equal(p.Data[14+16:14+20], ds) {
			a = append(a, p)
		} else {
			b = append(b, p)
		}
	}
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("split %d/%d", len(a), len(b))
	}
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.pcapng"), filepath.Join(dir, "b.pcap")
	var wa, wb bytes.Buffer
	if err := capgen.WritePcapng(&wa, capgen.Ethernet, 262144, a); err != nil {
		t.Fatal(err)
	}
	if err := capgen.WritePcap(&wb, capgen.Ethernet, 262144, b); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pa, wa.Bytes(), 0o644)
	os.WriteFile(pb, wb.Bytes(), 0o644)
	single, _, _ := runCLI(t, nil, "-T", "transcript", testdata+"msnp7-login.pcap")
	merged, stderr, code := runCLI(t, nil, "-T", "transcript", "-r", pb, pa)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff(single, merged); diff != "" {
		t.Errorf("merged files (-single +merged):\n%s", diff)
	}
}
