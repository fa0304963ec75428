package reassembly

import (
	"math/rand/v2"
	"testing"
	"time"
)

// closedRef is closedConns as it was with a single map of full keys: the
// model that closedConns must follow exactly, down to which of the entries
// with equal times the bound forgets.
type closedRef struct {
	last map[connKey]int64
	heap []closedRefEntry
}

type closedRefEntry struct {
	key  connKey
	seen int64
}

func (c *closedRef) add(k connKey, t time.Time) {
	if c.last == nil {
		c.last = make(map[connKey]int64)
	}
	if _, ok := c.last[k]; !ok && len(c.last) >= maxClosedConns {
		c.pop()
	}
	n := t.UnixNano()
	if old, ok := c.last[k]; ok && old >= n {
		return
	}
	c.last[k] = n
	c.push(closedRefEntry{k, n})
}

func (c *closedRef) late(k connKey, syn bool, t time.Time) bool {
	seen, ok := c.last[k]
	if !ok {
		return false
	}
	if syn {
		delete(c.last, k)
		return false
	}
	if n := t.UnixNano(); n > seen {
		c.last[k] = n
	}
	return true
}

func (c *closedRef) expire(t time.Time) {
	n := t.UnixNano()
	for len(c.heap) > 0 && c.heap[0].seen < n {
		c.pop()
	}
}

func (c *closedRef) pop() {
	for len(c.heap) > 0 {
		e := c.heap[0]
		seen, ok := c.last[e.key]
		if ok && seen > e.seen {
			c.heap[0].seen = seen
			c.down(0)
			continue
		}
		c.heap[0] = c.heap[len(c.heap)-1]
		c.heap = c.heap[:len(c.heap)-1]
		c.down(0)
		if ok && seen == e.seen {
			delete(c.last, e.key)
			return
		}
	}
}

func (c *closedRef) push(e closedRefEntry) {
	c.heap = append(c.heap, e)
	for i := len(c.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if c.heap[p].seen <= c.heap[i].seen {
			break
		}
		c.heap[p], c.heap[i] = c.heap[i], c.heap[p]
		i = p
	}
}

func (c *closedRef) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(c.heap) {
			return
		}
		m := l
		if r := l + 1; r < len(c.heap) && c.heap[r].seen < c.heap[l].seen {
			m = r
		}
		if c.heap[i].seen <= c.heap[m].seen {
			return
		}
		c.heap[i], c.heap[m] = c.heap[m], c.heap[i]
		i = m
	}
}

// TestClosedConnsModel runs random adds, late packets, SYNs and expiries,
// past maxClosedConns, on closedConns and on closedRef, and checks that
// they answer and remember the same. The clock ticks every few operations,
// or rarely, so that many entries have equal times.
func TestClosedConnsModel(t *testing.T) {
	const (
		ops  = 4 * maxClosedConns
		keys = 2 * maxClosedConns
	)
	key := func(i int) connKey {
		k := connKey{pa: uint16(1024 + i%7), pb: 1863, v6: i%10 == 0}
		k.a[0], k.a[1], k.a[2], k.a[3] = 10, byte(i>>16), byte(i>>8), byte(i)
		k.b[0], k.b[3] = 65, 140
		if k.v6 {
			k.a[15], k.b[15] = 1, 2
		}
		return k
	}
	for _, tick := range []int{4, 20000} { // operations per millisecond
		rng := rand.New(rand.NewPCG(3, uint64(tick)))
		var got closedConns
		var want closedRef
		clock, full := 0, 0
		// at is the clock, back ms earlier; expiries reach 3/4 of the run back.
		at := func(back int) time.Time { return t0.Add(time.Duration(clock-back) * time.Millisecond) }
		expiry := ops / tick * 3 / 4
		check := func(op int) {
			if got.len() != len(want.last) {
				t.Fatalf("tick %d op %d: remembers %d, want %d", tick, op, got.len(), len(want.last))
			}
			if op%8192 != 0 {
				return
			}
			for k, w := range want.last {
				if g, ok := got.get(k); !ok || g != w {
					t.Fatalf("tick %d op %d: %v last seen %v, %v; want %v", tick, op, k, g, ok, w)
				}
			}
		}
		for op := range ops {
			if rng.IntN(tick) == 0 {
				clock++
			}
			k := key(rng.IntN(keys))
			switch r := rng.IntN(100); {
			case r < 60:
				tm := at(rng.IntN(5))
				if _, ok := want.last[k]; !ok && len(want.last) >= maxClosedConns {
					full++
				}
				got.add(k, tm)
				want.add(k, tm)
			case r < 97:
				syn := rng.IntN(8) == 0
				tm := at(rng.IntN(3))
				if g, w := got.late(k, syn, tm), want.late(k, syn, tm); g != w {
					t.Fatalf("tick %d op %d: late(%v, %v) = %v, want %v", tick, op, k, syn, g, w)
				}
			default:
				tm := at(expiry + rng.IntN(3))
				got.expire(tm)
				want.expire(tm)
			}
			check(op)
		}
		check(0)
		if full < 1000 {
			t.Errorf("tick %d: %d additions past the bound, want at least 1000", tick, full)
		}
		if len(got.heap) != len(want.heap) {
			t.Errorf("tick %d: heap of %d entries, want %d", tick, len(got.heap), len(want.heap))
		}
	}
}
