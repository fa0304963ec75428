package reassembly

import (
	"encoding/binary"
	"testing"
)

// TestConnsShrink checks that the maps of the connections held are made
// again, with the same connections, once most of the peak is gone.
func TestConnsShrink(t *testing.T) {
	var c conns
	c.init()
	const n = 2 * minShrink
	all := make([]*tcpStream, n)
	for i := range all {
		s := &tcpStream{key: connKey{pa: 1863, pb: uint16(i)}}
		binary.BigEndian.PutUint32(s.key.b[:], uint32(i))
		if i%100 == 0 {
			s.key.v6 = true
		}
		all[i] = s
		c.put(s)
	}
	for i, s := range all {
		if i%20 != 0 {
			c.remove(s)
		}
	}
	const left = (n + 19) / 20
	c.shrink()
	if c.peak != left {
		t.Errorf("peak = %d after shrink, want %d", c.peak, left)
	}
	for i, s := range all {
		got := c.v4[key4(s.key)]
		if s.key.v6 {
			got = c.v6[s.key]
		}
		if want := (*tcpStream)(nil); i%20 == 0 {
			want = s
			if got != want {
				t.Fatalf("get(%v) = %p, want %p", s.key, got, want)
			}
		} else if got != nil {
			t.Fatalf("get(%v) = %p, want nil", s.key, got)
		}
	}
	held := 0
	for s := c.head.anext; s != &c.head; s = s.anext {
		held++
	}
	if held != left {
		t.Errorf("%d connections in the list, want %d", held, left)
	}
}
