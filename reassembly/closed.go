package reassembly

import "time"

// maxClosedConns bounds the connections remembered after they closed:
// 131072 entries of about 50 bytes (an IPv4 entry: 24 in the map, 24 in
// the heap, with room to grow), 7 MiB, hold every connection closed in the
// last IdleTimeout at 70 connections a second (the default thirty
// minutes). Past it the oldest is forgotten; its late packets are then
// counted as Stray or, with payload, start a connection caught mid-stream.
const maxClosedConns = 1 << 17

// closedConns remembers the connections the assembler let go after they
// closed, with the packet time they were last seen, for IdleTimeout after
// that: as long as gopacket's assembler, which the Engine used before,
// kept them in its pool. A min-heap on the time
// finds the ones to forget; a connection seen again keeps its old entry,
// which is put back with the new time when it comes up.
//
// IPv4 connections, nearly all of them, are kept under a key of 12 bytes
// instead of a connKey of 38: it halves the memory of both the map and the
// heap. The few IPv6 entries of the heap name their key by its index in
// keys6.
type closedConns struct {
	last4 map[closedKey4]int64 // last seen, Unix nanoseconds
	last6 map[connKey]int64
	heap  []closedEntry // min-heap on seen
	keys6 []connKey     // keys of the heap's IPv6 entries
	free6 []int32       // unused indexes of keys6
}

// closedKey4 is a connKey of IPv4 addresses without the 12 zero bytes that
// follow each address.
type closedKey4 struct {
	a, b   [4]byte
	pa, pb uint16
}

// closedEntry is an entry of the heap: a connection and a time it was last
// seen.
type closedEntry struct {
	seen int64
	k4   closedKey4 // the connection, when k6 is 0
	k6   int32      // 1 + index in keys6 of an IPv6 connection, or 0
}

// key4 returns the short form of k, an IPv4 connection's key: makeConnKey
// leaves the bytes after an IPv4 address zero, so no two keys have the same
// short form.
func key4(k connKey) closedKey4 {
	return closedKey4{a: [4]byte(k.a[:4]), b: [4]byte(k.b[:4]), pa: k.pa, pb: k.pb}
}

// len returns how many connections are remembered.
func (c *closedConns) len() int { return len(c.last4) + len(c.last6) }

// get returns when connection k was last seen, if it is remembered.
func (c *closedConns) get(k connKey) (int64, bool) {
	if k.v6 {
		n, ok := c.last6[k]
		return n, ok
	}
	n, ok := c.last4[key4(k)]
	return n, ok
}

// set remembers connection k as last seen at n.
func (c *closedConns) set(k connKey, n int64) {
	if k.v6 {
		if c.last6 == nil {
			c.last6 = make(map[connKey]int64)
		}
		c.last6[k] = n
		return
	}
	if c.last4 == nil {
		c.last4 = make(map[closedKey4]int64)
	}
	c.last4[key4(k)] = n
}

// forget forgets connection k.
func (c *closedConns) forget(k connKey) {
	if k.v6 {
		delete(c.last6, k)
	} else {
		delete(c.last4, key4(k))
	}
}

// entryLast returns when the connection of heap entry e was last seen, if
// it is remembered.
func (c *closedConns) entryLast(e *closedEntry) (int64, bool) {
	if e.k6 != 0 {
		n, ok := c.last6[c.keys6[e.k6-1]]
		return n, ok
	}
	n, ok := c.last4[e.k4]
	return n, ok
}

// add remembers a closed connection last seen at t.
func (c *closedConns) add(k connKey, t time.Time) {
	n := t.UnixNano()
	old, ok := c.get(k)
	if ok && old >= n {
		return
	}
	if !ok && c.len() >= maxClosedConns {
		c.pop() // it cannot forget k, which it does not hold
	}
	c.set(k, n)
	e := closedEntry{seen: n}
	if k.v6 {
		if m := len(c.free6); m > 0 {
			e.k6 = c.free6[m-1]
			c.free6 = c.free6[:m-1]
			c.keys6[e.k6-1] = k
		} else {
			c.keys6 = append(c.keys6, k)
			e.k6 = int32(len(c.keys6))
		}
	} else {
		e.k4 = key4(k)
	}
	c.push(e)
}

// late tells whether a packet of connection k at time t belongs to a closed
// connection: true unless it is a SYN, which starts a new one.
func (c *closedConns) late(k connKey, syn bool, t time.Time) bool {
	if c.len() == 0 {
		return false
	}
	seen, ok := c.get(k)
	if !ok {
		return false
	}
	if syn {
		c.forget(k)
		return false
	}
	// A late packet keeps the connection remembered, as it kept the
	// connection in gopacket's pool.
	if n := t.UnixNano(); n > seen {
		c.set(k, n)
	}
	return true
}

// expire forgets the connections last seen before t.
func (c *closedConns) expire(t time.Time) {
	n := t.UnixNano()
	for len(c.heap) > 0 && c.heap[0].seen < n {
		c.pop()
	}
}

// pop forgets the connection of the earliest entry, or puts the entry back
// with the connection's newer time when it was seen since. Entries of
// connections forgotten or added again are dropped.
func (c *closedConns) pop() {
	for len(c.heap) > 0 {
		e := c.heap[0]
		seen, ok := c.entryLast(&e)
		if ok && seen > e.seen {
			c.heap[0].seen = seen
			c.down(0)
			continue
		}
		c.heap[0] = c.heap[len(c.heap)-1]
		c.heap = c.heap[:len(c.heap)-1]
		c.down(0)
		forget := ok && seen == e.seen
		if e.k6 != 0 {
			i := e.k6 - 1
			if forget {
				delete(c.last6, c.keys6[i])
			}
			c.keys6[i] = connKey{}
			c.free6 = append(c.free6, e.k6)
		} else if forget {
			delete(c.last4, e.k4)
		}
		if forget {
			return
		}
	}
}

// push adds e to the heap.
func (c *closedConns) push(e closedEntry) {
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

// down restores the heap below i.
func (c *closedConns) down(i int) {
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
