package report

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestPosIndex reads entries back by position, in order, at random and
// from several goroutines at once, with the entries in memory and in a
// file, over several blocks.
func TestPosIndex(t *testing.T) {
	saved := spoolMemory
	defer func() { spoolMemory = saved }()
	for _, mem := range []int{saved, 0} {
		spoolMemory = mem
		var x posIndex
		const n = 3*posBlock + 17
		for i := range n {
			if err := x.add(uint64(i)*7, ^uint64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := x.flush(); err != nil {
			t.Fatal(err)
		}
		if (x.sp.f != nil) != (mem == 0) {
			t.Fatalf("spool memory %d: in a file %v", mem, x.sp.f != nil)
		}
		check := func(i int) error {
			a, b, err := x.get(i)
			if err != nil {
				return err
			}
			if a != uint64(i)*7 || b != ^uint64(i) {
				return fmt.Errorf("entry %d: %d %x", i, a, b)
			}
			return nil
		}
		for i := range n {
			if err := check(i); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for g := range errs {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 2))
				for range 2000 {
					if err := check(rng.IntN(n)); err != nil {
						errs[g] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, i := range []int{-1, n} {
			if _, _, err := x.get(i); err == nil {
				t.Errorf("entry %d of %d: no error", i, n)
			}
		}
		x.close()
		if x.n != n {
			t.Errorf("after close, %d entries, want %d", x.n, n)
		}
	}
}

// TestIndexOrder holds the sorted index to the report's order, sessions
// by start then ID and conversations by start then creation order, on
// starts that tie, before 1970 and apart by nanoseconds, with the records
// sorted in memory and in many runs; and each user's conversations to
// their numbers in that order.
func TestIndexOrder(t *testing.T) {
	savedSort, savedSpool := sortMemory, spoolMemory
	defer func() { sortMemory, spoolMemory = savedSort, savedSpool }()
	type entry struct {
		start stamp
		num   int
		off   int64
	}
	order := func(a, b entry) int { return cmp.Or(a.start.compare(b.start), cmp.Compare(a.num, b.num)) }
	rng := rand.New(rand.NewPCG(3, 4))
	starts := []stamp{{-5, 999_999_999}, {-1, 0}, {0, 0}, {0, 1}, {1_700_000_000, 5}, {1_700_000_000, 999_999_999}, {1_700_000_001, 0}}
	for _, mem := range []int{savedSort, 256} {
		sortMemory, spoolMemory = mem, savedSpool
		if mem < savedSort {
			spoolMemory = 0
		}
		j := newJSONReport()
		var sessions, convs []entry
		users := map[string][]int{} // conversations' offsets, by user
		for i := range 300 {
			e := entry{start: starts[rng.IntN(len(starts))], num: i, off: int64(1000 + i)}
			if rng.IntN(2) == 0 {
				sessions = append(sessions, e)
				j.index(recSession, e.start, e.num, e.off, i%50, "")
				continue
			}
			names := []string{fmt.Sprintf("u%d", rng.IntN(5)), fmt.Sprintf("v%d", i%3)}
			for _, u := range names {
				users[u] = append(users[u], int(e.off))
			}
			convs = append(convs, e)
			j.index(recConv, e.start, e.num, e.off, i%50, names...)
		}
		// The users list only the users of sessions: a session each,
		// last in report order.
		for k, u := range []string{"u0", "u1", "u2", "u3", "u4", "v0", "v1", "v2"} {
			if len(users[u]) > 0 {
				j.index(recSession, stamp{2_000_000_000, 0}, 1000+k, 0, 0, u)
			}
		}
		if err := j.prepare(); err != nil {
			t.Fatal(err)
		}
		if mem < savedSort && j.entries.merged < 10 {
			t.Fatalf("sort memory %d: %d runs merged", mem, j.entries.merged)
		}
		slices.SortFunc(sessions, order)
		slices.SortFunc(convs, order)
		if j.numSessions() != len(sessions)+len(users) || j.numConversations() != len(convs) {
			t.Fatalf("%d sessions and %d conversations, want %d and %d", j.numSessions(), j.numConversations(), len(sessions)+len(users), len(convs))
		}
		for i, want := range sessions {
			p, id, err := j.session(i)
			if err != nil || p.off != want.off || id != want.num || p.n != int(want.off-1000)%50 {
				t.Fatalf("sort memory %d: session %d in order is %+v %d %v, want %+v", mem, i, p, id, err, want)
			}
		}
		number := map[int]int{} // conversations' numbers, by offset
		for i, want := range convs {
			p, err := j.conversation(i)
			if err != nil || p.off != want.off || p.n != int(want.off-1000)%50 {
				t.Fatalf("sort memory %d: conversation %d in order is %+v %v, want %+v", mem, i, p, err, want)
			}
			number[int(p.off)] = i + 1
		}
		err := j.eachUser(func(u *spooledUser) error {
			var want []int
			for _, off := range users[u.User.User] {
				want = append(want, number[off])
			}
			slices.Sort(want)
			if !slices.Equal(u.Conversations, want) {
				return fmt.Errorf("user %s: conversations %v, want %v", u.User.User, u.Conversations, want)
			}
			delete(users, u.User.User)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		j.closeSpools()
		if len(users) != 0 {
			t.Errorf("users not listed: %v", users)
		}
	}
}
