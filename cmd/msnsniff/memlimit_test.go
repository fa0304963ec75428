package main

import (
	"io"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"90MiB", 90 << 20}, {"100MB", 100e6}, {"1.5GB", 1.5e9}, {"2GiB", 2 << 30},
		{"512KiB", 512 << 10}, {"64kB", 64000}, {"1234", 1234}, {"1234B", 1234}, {" 7 MiB ", 7 << 20},
	} {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "ten", "1e30GB", "NaN", "Inf", "5 parsecs"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

// TestMemoryLimitFlag checks the flag's default, its value, and that a
// GOMEMLIMIT the user set stands unless the flag is given.
func TestMemoryLimitFlag(t *testing.T) {
	for _, tt := range []struct {
		env  string
		args []string
		want int64
	}{
		{"", nil, 90 << 20},
		{"", []string{"--memory-limit", "0"}, 0},
		{"", []string{"--memory-limit", "1GB"}, 1e9},
		{"1GiB", nil, 0},
		{"1GiB", []string{"--memory-limit", "200MiB"}, 200 << 20},
	} {
		t.Setenv("GOMEMLIMIT", tt.env)
		cfg, _, err := parseFlags(append(tt.args, "x.pcap"), io.Discard)
		if err != nil || cfg.memLimit != tt.want {
			t.Errorf("GOMEMLIMIT=%q %q: limit %d, %v; want %d", tt.env, tt.args, cfg.memLimit, err, tt.want)
		}
	}
	if _, _, err := parseFlags([]string{"--memory-limit", "lots", "x.pcap"}, io.Discard); err == nil {
		t.Error("--memory-limit lots: no error")
	}
}

func TestLimitFor(t *testing.T) {
	for _, tt := range []struct {
		base        int64
		live, other uint64
		want        int64
	}{
		{90 << 20, 40 << 20, 8 << 20, 90 << 20},   // room enough under the base
		{90 << 20, 100 << 20, 8 << 20, 158 << 20}, // the sessions need more: half again
		{90 << 20, 1 << 62, 1 << 62, 1<<63 - 1},   // no overflow
	} {
		if got := limitFor(tt.base, tt.live, tt.other); got != tt.want {
			t.Errorf("limitFor(%d, %d, %d) = %d, want %d", tt.base, tt.live, tt.other, got, tt.want)
		}
	}
}

// TestLimitMemory runs the limit on the real runtime: it is set, raised
// after a collection when the live heap would not fit under it with room
// to grow, and put back when the last of two overlapping runs ends.
func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	done1 := limitMemory(32 << 20)
	if got := debug.SetMemoryLimit(-1); got != 32<<20 {
		t.Fatalf("limit %d during the run, want %d", got, 32<<20)
	}
	done2 := limitMemory(64 << 20)

	// 48 MiB live: the limit must leave room above it, not stay at 32.
	live := make([][]byte, 48)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) < 72<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d with 48 MiB live, want at least %d", debug.SetMemoryLimit(-1), 72<<20)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(live)

	done1()
	done1() // a second call does nothing
	if got := debug.SetMemoryLimit(-1); got == before {
		t.Fatal("limit put back while a run was still active")
	}
	done2()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit %d after the runs, want %d back", got, before)
	}
	// No watch is left to change it after a collection.
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit %d after a collection once the runs ended, want %d", got, before)
	}
	if got := limitMemory(0); got == nil {
		t.Fatal("limitMemory(0) returned nil")
	}
}
