package report

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestRecordSorterSorts holds recordSorter to slices.Sort on random
// records, held in memory and spilled to runs of every size, the runs in
// memory and in a file, merged at once and a few at a time.
func TestRecordSorterSorts(t *testing.T) {
	saved, savedSpool := sortMemory, spoolMemory
	defer func() { sortMemory, spoolMemory = saved, savedSpool }()
	rng := rand.New(rand.NewPCG(7, 1))
	for _, mem := range []int{saved, 1 << 10, 64, 0, -64} {
		for _, n := range []int{0, 1, 2, 500} {
			sortMemory, spoolMemory = mem, savedSpool
			if mem < 0 {
				sortMemory, spoolMemory = -mem, 0
			}
			var s recordSorter
			var want [][]byte
			for range n {
				// Short records over few bytes: many equal, many
				// prefixes of others.
				r := make([]byte, rng.IntN(6))
				for i := range r {
					r[i] = byte(rng.IntN(3))
				}
				if rng.IntN(50) == 0 {
					r = bytes.Repeat([]byte{9}, 70<<10) // beyond a chunk
				}
				want = append(want, r)
				if err := s.add(r); err != nil {
					t.Fatal(err)
				}
			}
			slices.SortFunc(want, bytes.Compare)
			var got [][]byte
			err := s.each(func(r []byte) error {
				got = append(got, bytes.Clone(r))
				return nil
			})
			s.close()
			runs := s.merged
			if err != nil {
				t.Fatal(err)
			}
			if mem < 1<<10 && n > 2 && runs < 2 {
				t.Errorf("memory %d, %d records: %d runs, the merge is not tested", mem, n, runs)
			}
			// Under 4 KiB, two runs are merged at a time.
			if mem < 1<<10 && n > 2 && s.passes != runs-2 {
				t.Errorf("memory %d, %d records: %d runs merged in %d passes, want %d", mem, n, runs, s.passes, runs-2)
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("memory %d, %d records (%d runs): sorted wrong", mem, n, runs)
			}
		}
	}
}

// TestRecordSorterStops returns the first error of yield and stops.
func TestRecordSorterStops(t *testing.T) {
	saved := sortMemory
	defer func() { sortMemory = saved }()
	for _, mem := range []int{saved, 0} {
		sortMemory = mem
		var s recordSorter
		for _, r := range []string{"c", "a", "b"} {
			if err := s.add([]byte(r)); err != nil {
				t.Fatal(err)
			}
		}
		stop := errors.New("stop")
		calls := 0
		err := s.each(func(r []byte) error {
			calls++
			return stop
		})
		s.close()
		if err != stop || calls != 1 {
			t.Errorf("memory %d: each returned %v after %d calls, want stop after 1", mem, err, calls)
		}
	}
}

// FuzzUserKey checks that user keys compare as the names do, that none is
// a prefix of another's, and that a key cut from a record gives its name
// back.
func FuzzUserKey(f *testing.F) {
	f.Add("u1@hotmail.com", "u1@hotmail.com.x")
	f.Add("a\x00b", "a")
	f.Add("a\x00", "a\x00\x00")
	f.Add("", "\x00")
	f.Add("a\x01", "a\x00\xff")
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := appendUserKey(nil, a), appendUserKey(nil, b)
		if got, want := bytes.Compare(ka, kb), strings.Compare(a, b); got != want {
			t.Fatalf("keys of %q and %q compare %d, names %d", a, b, got, want)
		}
		if a != b && (bytes.HasPrefix(ka, kb) || bytes.HasPrefix(kb, ka)) {
			t.Fatalf("the key of %q or of %q is a prefix of the other's", a, b)
		}
		rec := append(ka, userSession, 0xff, 0, 1)
		name, rest, err := cutUserKey(rec)
		if err != nil || unescapeUserKey(name) != a || !bytes.Equal(rest, []byte{userSession, 0xff, 0, 1}) {
			t.Fatalf("cut %q from the record of %q: %q, %q, %v", name, a, unescapeUserKey(name), rest, err)
		}
	})
}

// TestReadChunk reads chunks back, and tells the end of the input before a
// chunk (io.EOF) from a chunk cut short, which must not pass for the end
// of a run.
func TestReadChunk(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		err  error
	}{
		{"", "", io.EOF},
		{"\x00", "", nil},
		{"\x02ab", "ab", nil},
		{"\x03", "", io.ErrUnexpectedEOF},
		{"\x03ab", "", io.ErrUnexpectedEOF},
		{"\x80", "", io.ErrUnexpectedEOF},
	} {
		got, err := readChunk(bufio.NewReader(strings.NewReader(c.in)), nil)
		if err != c.err || (err == nil && string(got) != c.want) {
			t.Errorf("%q: %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
	}
	if _, err := readChunk(bufio.NewReader(strings.NewReader("\xff\xff\xff\xff\x0f")), nil); err == nil {
		t.Error("a 4 GiB chunk: no error")
	}
}
