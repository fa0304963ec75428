package dissect

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// refTrids is the TrID matching as it was before trids, with a map from
// the first TrID: the reference trids is held to.
type refTrids struct {
	open map[int64]*Transaction
	ring []int64
	head int
}

func (r *refTrids) get(trid int64) *Transaction { return r.open[trid] }

func (r *refTrids) put(trid int64, tx *Transaction, max int, evict func(int64, *Transaction)) {
	if _, had := r.open[trid]; !had {
		if len(r.ring) < max {
			r.ring = append(r.ring, trid)
		} else {
			old := r.ring[r.head]
			if otx, ok := r.open[old]; ok {
				evict(old, otx)
				delete(r.open, old)
			}
			r.ring[r.head] = trid
			r.head = (r.head + 1) % max
		}
	}
	if r.open == nil {
		r.open = map[int64]*Transaction{}
	}
	r.open[trid] = tx
}

// checkTrids runs the operations ops encodes on a trids and on the
// reference, and fails at the first difference: a lookup's transaction,
// the TrIDs forgotten and their transactions, or the number open. Each
// operation is 9 bytes: a kind, then a TrID relative to the newest opened
// (so that the common case, the next TrID, is common in fuzzed input too).
func checkTrids(t *testing.T, max int, ops []byte) {
	t.Helper()
	var (
		got           trids
		want          refTrids
		gotEv, wantEv []string
		newest        int64
	)
	evictTo := func(to *[]string) func(int64, *Transaction) {
		return func(trid int64, tx *Transaction) { *to = append(*to, fmt.Sprintf("%d:%d", trid, tx.Replies)) }
	}
	for i := 0; i+9 <= len(ops); i += 9 {
		kind := ops[i]
		trid := newest + int64(binary.LittleEndian.Uint64(ops[i+1:]))
		switch kind % 8 {
		case 0, 1, 2: // the next TrID
			trid = newest + 1
		case 3: // a small step, back or forward
			trid = newest + int64(int8(ops[i+1]))
		case 4: // any TrID
		case 5, 6: // look up a TrID near the newest
			trid = newest - int64(ops[i+1]%32)
		case 7: // look up any TrID
		}
		if kind%8 >= 5 {
			g, w := got.get(trid), want.get(trid)
			if g != w {
				t.Fatalf("op %d: get(%d) = %p, want %p", i/9, trid, g, w)
			}
			if g != nil {
				g.Replies++ // answered: the eviction reports differ
			}
			continue
		}
		tx := &Transaction{TrID: trid}
		if g, w := got.get(trid), want.get(trid); g != w {
			t.Fatalf("op %d: before put(%d), get = %p, want %p", i/9, trid, g, w)
		}
		got.put(trid, tx, max, evictTo(&gotEv))
		want.put(trid, tx, max, evictTo(&wantEv))
		newest = trid
		if !slices.Equal(gotEv, wantEv) {
			t.Fatalf("op %d: put(%d): evicted %v, want %v", i/9, trid, gotEv, wantEv)
		}
		if got.len() != len(want.open) {
			t.Fatalf("op %d: %d open, want %d", i/9, got.len(), len(want.open))
		}
	}
	// Every TrID ever opened, and its neighbours, is found as in the
	// reference.
	for _, id := range want.ring {
		for _, x := range []int64{id - 1, id, id + 1} {
			if g, w := got.get(x), want.get(x); g != w {
				t.Fatalf("end: get(%d) = %p, want %p", x, g, w)
			}
		}
	}
}

// TestTrIDsMatchMap holds trids to the map it replaced on random
// operations: mostly TrIDs counting up, as clients send them, with TrIDs
// reused, going back and jumping, lookups of recent and of any TrIDs, and
// limits from 1 to beyond the number opened.
func TestTrIDsMatchMap(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		ops := make([]byte, 9*r.IntN(600))
		for i := 0; i < len(ops); i += 9 {
			ops[i] = byte(r.IntN(256))
			if r.IntN(20) > 0 {
				// Mostly the next TrID or a lookup.
				ops[i] = byte([]int{0, 1, 2, 5, 6}[r.IntN(5)])
			}
			binary.LittleEndian.PutUint64(ops[i+1:], r.Uint64()>>uint(r.IntN(64)))
		}
		max := []int{1, 2, 3, 5, 16, 17, 64, 1024}[r.IntN(8)]
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkTrids(t, max, ops) })
	}
}

// FuzzTrIDs is TestTrIDsMatchMap on the fuzzer's operations.
func FuzzTrIDs(f *testing.F) {
	f.Add(uint8(3), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x03\xff\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(uint8(1), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x06\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, max uint8, ops []byte) {
		checkTrids(t, int(max%40)+1, ops)
	})
}

// checkAcks runs the operations ops encodes on an acks and on a map, as
// the chat kept them before, and fails at the first difference. Each
// operation is 3 bytes: a kind, a TrID step and an offset.
func checkAcks(t *testing.T, ops []byte) {
	t.Helper()
	var (
		got    acks
		want   = map[int64]int{}
		newest int64
	)
	for i := 0; i+3 <= len(ops); i += 3 {
		kind, step, off := ops[i], int64(int8(ops[i+1])), int(ops[i+2])-1
		switch kind % 4 {
		case 0, 1: // a message awaiting its answer, mostly the next TrID
			trid := newest + 1
			if kind%8 == 1 {
				trid = newest + step
			}
			got.put(trid, off)
			want[trid] = off
			newest = trid
		default: // an answer to a TrID near the newest
			trid := newest - step%16
			g, gok := got.take(trid)
			w, wok := want[trid]
			delete(want, trid)
			if g != w || gok != wok {
				t.Fatalf("op %d: take(%d) = %d, %v, want %d, %v", i/3, trid, g, gok, w, wok)
			}
		}
		if got.len() != len(want) {
			t.Fatalf("op %d: %d awaiting, want %d", i/3, got.len(), len(want))
		}
	}
	for trid, w := range want {
		if g, ok := got.take(trid); !ok || g != w {
			t.Fatalf("end: take(%d) = %d, %v, want %d", trid, g, ok, w)
		}
	}
}

// TestAcksMatchMap holds acks to the map it replaced on random
// operations: messages with TrIDs mostly counting up, some reused or going
// back, and answers to recent TrIDs, some twice or never.
func TestAcksMatchMap(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 9))
		ops := make([]byte, 3*r.IntN(500))
		for i := 0; i < len(ops); i += 3 {
			ops[i] = byte([]int{0, 0, 0, 2, 2, 3, 1, 5}[r.IntN(8)])
			ops[i+1] = byte(r.IntN(256) >> uint(r.IntN(8)))
			ops[i+2] = byte(r.IntN(256))
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkAcks(t, ops) })
	}
}

// FuzzAcks is TestAcksMatchMap on the fuzzer's operations.
func FuzzAcks(f *testing.F) {
	f.Add([]byte("\x00\x00\x05\x00\x00\x06\x02\x01\x00\x02\x00\x00\x01\xfe\x07\x02\x03\x00"))
	f.Fuzz(checkAcks)
}
