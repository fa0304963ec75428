package reassembly

import (
	"container/heap"
	"errors"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Run reads every source, merges their packets by timestamp and feeds them to
// e, then calls e.Finish with the latest packet time. Packets with equal
// timestamps go in the order of sources, and each file keeps its own order
// (a packet is taken when it is the earliest of the heads of the files). A
// file that cannot be read to the end stops there while the others go on;
// Run returns the errors of all such files joined, each a *FileError. It does
// not close the sources.
func Run(sources []*Source, e *Engine) error {
	var errs []error
	var last time.Time
	h := make(mergeHeap, 0, len(sources))
	for i, s := range sources {
		it := mergeItem{src: s, index: i}
		if err := it.next(); err != nil {
			if err != io.EOF {
				errs = append(errs, err)
			}
			continue
		}
		h = append(h, it)
	}
	heap.Init(&h)
	for len(h) > 0 {
		it := &h[0]
		if it.ci.Timestamp.After(last) {
			last = it.ci.Timestamp
		}
		e.Packet(it.data, it.ci, it.link, it.src.Name(), it.src.Packets())
		if err := it.next(); err != nil {
			if err != io.EOF {
				errs = append(errs, err)
			}
			heap.Pop(&h)
			continue
		}
		if len(h) > 1 {
			heap.Fix(&h, 0)
		}
	}
	e.Finish(last)
	return errors.Join(errs...)
}

// mergeItem is the next packet of one source.
type mergeItem struct {
	src   *Source
	index int
	data  []byte
	ci    gopacket.CaptureInfo
	link  layers.LinkType
}

// next reads the next packet of the item's source.
func (it *mergeItem) next() error {
	var err error
	it.data, it.ci, it.link, err = it.src.Next()
	return err
}

// mergeHeap orders sources by the timestamp of their next packet, then by
// their index.
type mergeHeap []mergeItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	ti, tj := h[i].ci.Timestamp, h[j].ci.Timestamp
	if ti.Equal(tj) {
		return h[i].index < h[j].index
	}
	return ti.Before(tj)
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any) {
	if it, ok := x.(mergeItem); ok {
		*h = append(*h, it)
	}
}
func (h *mergeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
