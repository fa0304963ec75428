package report

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// TestInOrder checks that inOrder hands every result to use exactly once
// and in order, whatever order the workers finish in, that no more than
// its window of results is ahead of use, and that an error from use stops
// it without leaving goroutines blocked.
func TestInOrder(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 8} {
		for _, n := range []int{0, 1, 2, 7, 100, 1000} {
			var maxAhead atomic.Int64
			var used atomic.Int64
			var got []int
			err := inOrder(n, workers, func(w, i int) int {
				if w < 0 || w >= workers {
					t.Errorf("worker %d of %d", w, workers)
				}
				if ahead := int64(i) - used.Load(); ahead > maxAhead.Load() {
					maxAhead.Store(ahead)
				}
				if rand.IntN(4) == 0 {
					time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				}
				return i * i
			}, func(i, v int) error {
				if v != i*i {
					t.Errorf("result %d for index %d", v, i)
				}
				got = append(got, i)
				used.Add(1)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("workers %d, n %d: used %d results", workers, n, len(got))
			}
			for i, x := range got {
				if x != i {
					t.Fatalf("workers %d, n %d: result %d used at position %d", workers, n, x, i)
				}
			}
			if w := int64(8 * workers); workers > 1 && maxAhead.Load() > w {
				t.Errorf("workers %d: work ran %d ahead of use, window %d", workers, maxAhead.Load(), w)
			}
		}
	}
	stop := errors.New("stop")
	for _, workers := range []int{1, 2, 8} {
		var calls atomic.Int64
		err := inOrder(10000, workers, func(_, i int) int {
			calls.Add(1)
			return i
		}, func(i, _ int) error {
			if i == 50 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("workers %d: error %v, want %v", workers, err, stop)
		}
		if c := calls.Load(); c > 51+int64(8*workers) {
			t.Errorf("workers %d: %d items computed after use stopped at 51", workers, c)
		}
	}
}
