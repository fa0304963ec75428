package capgen

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// workloadTemplates loads two login examples as templates.
func workloadTemplates(t *testing.T) []*Template {
	t.Helper()
	tpls, err := LoadTemplates([]string{"../../testdata/msnp2-example.txt", "../../testdata/msnp12-example.txt"})
	if err != nil {
		t.Fatal(err)
	}
	return tpls
}

func TestNewTemplate(t *testing.T) {
	tpls := workloadTemplates(t)
	if tpls[0].Version != 2 || tpls[1].Version != 12 {
		t.Errorf("versions %d, %d; want 2, 12", tpls[0].Version, tpls[1].Version)
	}
	if tpls[0].trid != 14 {
		t.Errorf("msnp2 first free TrID %d, want 14", tpls[0].trid)
	}
	noOut := &dissect.Transcript{Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}},
		Events: []dissect.TranscriptEvent{ev(0, dissect.C2S, "VER 1 MSNP8 CVR0\r\n")}}
	for name, tr := range map[string]*dissect.Transcript{"nil": nil, "empty": {}, "no OUT": noOut} {
		if _, err := NewTemplate(name, tr); !errors.Is(err, ErrTranscript) {
			t.Errorf("NewTemplate(%s) = %v, want ErrTranscript", name, err)
		}
	}
}

// TestWorkload checks a small workload: deterministic, of the size asked,
// times in order, every user's connections distinct, and readable.
func TestWorkload(t *testing.T) {
	opt := WorkloadOptions{Templates: workloadTemplates(t), Size: 1 << 20, Seed: 5, Reorder: 0.01, Duplicate: 0.01, Loss: 0.005}
	var a, b bytes.Buffer
	st, err := WriteWorkload(&a, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteWorkload(&b, opt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same options gave different captures")
	}
	opt.Seed++
	b.Reset()
	if _, err := WriteWorkload(&b, opt); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("another seed gave the same capture")
	}
	if st.Bytes != int64(a.Len()) || st.Bytes < opt.Size*9/10 || st.Bytes > opt.Size*11/10 {
		t.Errorf("Bytes = %d, file %d, want about %d", st.Bytes, a.Len(), opt.Size)
	}
	if st.Users < 10 || st.Conns < 3*st.Users || st.Chats == 0 || st.Dropped == 0 || st.MaxActive > st.Users {
		t.Errorf("stats %+v", st)
	}
	c, err := readPcap(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.recs) != st.Packets {
		t.Fatalf("read %d packets, want %d", len(c.recs), st.Packets)
	}
	for i := 1; i < len(c.recs); i++ {
		if c.recs[i].time.Before(c.recs[i-1].time) {
			t.Fatalf("packet %d at %v is before packet %d at %v", i+1, c.recs[i].time, i, c.recs[i-1].time)
		}
	}
	if !c.recs[0].time.Equal(st.First) || !c.recs[len(c.recs)-1].time.Equal(st.Last) {
		t.Errorf("First, Last = %v, %v; file %v, %v", st.First, st.Last, c.recs[0].time, c.recs[len(c.recs)-1].time)
	}
}

// TestWorkloadOrderWithLoss checks that a workload stays in time order when
// lost packets make room for more users after the capture reached its size:
// such a user used to arrive at the time drawn for it, long before the
// packets written last (msnp-200MB.pcap of msnbench gen --seed 1 went back
// in time by up to three minutes, three times).
func TestWorkloadOrderWithLoss(t *testing.T) {
	tpls := workloadTemplates(t)
	for seed := int64(1); seed <= 5; seed++ {
		var a bytes.Buffer
		st, err := WriteWorkload(&a, WorkloadOptions{Templates: tpls, Size: 1 << 20, Seed: seed, Loss: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		c, err := readPcap(a.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(c.recs); i++ {
			if c.recs[i].time.Before(c.recs[i-1].time) {
				t.Fatalf("seed %d: packet %d at %v is %v before packet %d", seed, i+1, c.recs[i].time, c.recs[i-1].time.Sub(c.recs[i].time), i)
			}
		}
		if st.Bytes < 1<<20*9/10 || st.Bytes > 1<<20*11/10 {
			t.Errorf("seed %d: Bytes = %d, want about %d", seed, st.Bytes, 1<<20)
		}
	}
}

// TestWorkloadBounded checks that the users held at once do not grow with
// the size of the capture.
func TestWorkloadBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 32 MiB")
	}
	tpls := workloadTemplates(t)
	var held []int
	// Users stay about three minutes, some a quarter of an hour: arriving
	// every four seconds, about 40 are active at once after the first
	// quarter of an hour (the smaller capture lasts about 20 minutes).
	for _, size := range []int64{8 << 20, 24 << 20} {
		st, err := WriteWorkload(discard{}, WorkloadOptions{Templates: tpls, Size: size, Seed: 1, Arrival: 4 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, st.MaxActive)
	}
	t.Logf("users held at once: %v", held)
	if held[1] > held[0]*3/2 {
		t.Errorf("users held at once: %d for 8 MiB, %d for 24 MiB; want about the same", held[0], held[1])
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestWorkloadErrors(t *testing.T) {
	tpls := workloadTemplates(t)
	for _, tt := range []struct {
		name string
		opt  WorkloadOptions
	}{
		{"no templates", WorkloadOptions{Size: 1000}},
		{"no size", WorkloadOptions{Templates: tpls}},
		{"loss 1", WorkloadOptions{Templates: tpls, Size: 1000, Loss: 1}},
		{"reorder 2", WorkloadOptions{Templates: tpls, Size: 1000, Reorder: 2}},
		{"negative arrival", WorkloadOptions{Templates: tpls, Size: 1000, Arrival: -1}},
	} {
		if _, err := WriteWorkload(discard{}, tt.opt); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: WriteWorkload = %v, want ErrOptions", tt.name, err)
		}
	}
}
