package reassembly

import (
	"container/heap"
	"errors"
	"io"
	"runtime"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Run reads every source, merges their packets by timestamp and feeds them to
// e, then calls e.Finish at e's Clock: the latest packet time, unless that
// was a lone jump (Stats.TimestampJumps). Packets with equal timestamps go
// in the order of sources, and each file keeps its own order (a packet is
// taken when it is the earliest of the heads of the files). A file that
// cannot be read to the end stops there while the others go on; Run
// returns the errors of all such files joined, each a *FileError. It does
// not close the sources.
//
// When more than one CPU is available (GOMAXPROCS > 1) and e has not been
// given packets before, Run works as a pipeline of three goroutines: one
// reads and merges the files, one runs the Engine (and Options.OnPacket),
// and the caller's goroutine calls the Sink and its Streams. They receive
// exactly the calls, in the same order and with the same bytes, that a
// single goroutine would make; only the goroutine differs. The sources and e
// must not be used by anyone else until Run returns; memory held between
// the stages is bounded by pipelineDepth batches of each kind.
func Run(sources []*Source, e *Engine) error {
	// Streams opened before Run are called by the Engine directly: they
	// could not keep their order with the replayed ones.
	return run(sources, e, runtime.GOMAXPROCS(0) > 1 && e.stats.Packets == 0)
}

// run is Run, pipelined or on the caller's goroutine alone.
func run(sources []*Source, e *Engine, pipelined bool) error {
	if !pipelined {
		var m merger
		m.start(sources)
		for {
			it := m.head()
			if it == nil {
				break
			}
			e.Packet(it.data, it.ci, it.link, it.src.Name(), it.src.Packets())
			m.advance()
		}
		e.Finish(time.Time{})
		return errors.Join(m.errs...)
	}
	return runPipeline(sources, e)
}

// merger merges the packets of several sources by timestamp.
type merger struct {
	h    mergeHeap
	errs []error
}

// start reads the first packet of every source.
func (m *merger) start(sources []*Source) {
	m.h = make(mergeHeap, 0, len(sources))
	for i, s := range sources {
		it := mergeItem{src: s, index: i}
		if err := it.next(); err != nil {
			if err != io.EOF {
				m.errs = append(m.errs, err)
			}
			continue
		}
		m.h = append(m.h, it)
	}
	heap.Init(&m.h)
}

// head returns the earliest packet, valid until advance, or nil at the end
// of every source.
func (m *merger) head() *mergeItem {
	if len(m.h) == 0 {
		return nil
	}
	return &m.h[0]
}

// advance reads the next packet of the source of head.
func (m *merger) advance() {
	it := &m.h[0]
	if err := it.next(); err != nil {
		if err != io.EOF {
			m.errs = append(m.errs, err)
		}
		heap.Pop(&m.h)
		return
	}
	if len(m.h) > 1 {
		heap.Fix(&m.h, 0)
	}
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
