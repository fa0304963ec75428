package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMaxConnectionsFlag squeezes the multi-party chat capture (a
// notification and several switchboard connections open together) into
// one open connection: the least recently active are ended early, each
// reported open with an evicted_connection anomaly and counted in the
// capture's totals and the summary on stderr; nothing fails.
func TestMaxConnectionsFlag(t *testing.T) {
	out, stderr, code := runCLI(t, nil, "-T", "json", "--max-connections", "1", "../../testdata/msnp8-multiparty.pcap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Capture struct {
			Anomalies []struct {
				Name  string `json:"name"`
				Count int    `json:"count"`
			} `json:"anomalies"`
		} `json:"capture"`
		Sessions []struct {
			ID        int  `json:"id"`
			Closed    bool `json:"closed"`
			Anomalies []struct {
				Kind string `json:"kind"`
			} `json:"anomalies"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	evicted := 0
	for _, s := range r.Sessions {
		for _, a := range s.Anomalies {
			if a.Kind == "evicted_connection" {
				evicted++
				if s.Closed {
					t.Errorf("session %d evicted but reported closed", s.ID)
				}
			}
		}
	}
	total := 0
	for _, a := range r.Capture.Anomalies {
		if a.Name == "evicted_connection" {
			total = a.Count
		}
	}
	if evicted == 0 || total != evicted {
		t.Fatalf("%d sessions evicted, capture total %d: want some, counted once each", evicted, total)
	}
	if !strings.Contains(stderr, "evicted_connection") {
		t.Errorf("stderr summary does not name the evictions: %q", stderr)
	}
	if _, stderr, code := runCLI(t, nil, "--max-connections", "0", "../../testdata/msnp8-multiparty.pcap"); code != exitUsage {
		t.Errorf("--max-connections 0: exit %d (%s), want %d", code, stderr, exitUsage)
	}
}
