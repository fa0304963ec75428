package report

import (
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// The NDJSON and JSON reports and the transcript are rendered on a
// goroutine of their own, so that encoding runs on another core than
// dissection. The dissector hands over only what it will not change any
// more: copies of commands (the dissector reuses its own), anomalies (the
// Handler owns them), sessions that have ended and await no link
// (dissect.Session.AwaitingLinks; Output holds the others until then),
// and, for the transcript, a command's open session, of which only the ID
// and connection are read. The work runs in the order it was handed over,
// so the output is the same as when rendered in line (Options.Flush, for
// live use, renders in line).

type evKind uint8

const (
	evCommand evKind = iota // a command; for the transcript, s is its session
	evAnomaly
	evSession       // an ended session that will not change (NDJSON)
	evSessionReport // the report model of an ended session (NDJSON)
	evJSONSession   // a final session of the JSON report
	evJSONConv      // a final conversation of the JSON report
)

type event struct {
	kind evKind
	// complete is whether a command's payload was wholly captured
	// (transcript).
	complete bool
	id       int
	seq      int
	start    time.Time
	c        *dissect.Command
	a        *dissect.Anomaly
	s        *dissect.Session
	r        *Session
	ss       []*dissect.Session
}

// batchSize is the number of events handed over at once; queued batches
// bound the memory of work not yet done.
const (
	batchSize     = 256
	queuedBatches = 8
)

// worker runs handle on its own goroutine for each event put, in order.
type worker struct {
	handle func(*event)
	batch  []event
	ch     chan []event
	free   chan []event
	done   chan struct{}
}

func newWorker(handle func(*event)) *worker {
	w := &worker{
		handle: handle,
		batch:  make([]event, 0, batchSize),
		ch:     make(chan []event, queuedBatches),
		free:   make(chan []event, queuedBatches+2),
		done:   make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *worker) run() {
	defer close(w.done)
	for b := range w.ch {
		for i := range b {
			w.handle(&b[i])
		}
		clear(b)
		select {
		case w.free <- b[:0]:
		default:
		}
	}
}

func (w *worker) put(e event) {
	w.batch = append(w.batch, e)
	if len(w.batch) == batchSize {
		w.send()
	}
}

func (w *worker) send() {
	if len(w.batch) == 0 {
		return
	}
	w.ch <- w.batch
	select {
	case w.batch = <-w.free:
	default:
		w.batch = make([]event, 0, batchSize)
	}
}

// wait hands over what is left and returns once all of it is done; the
// worker is finished after it.
func (w *worker) wait() {
	w.send()
	close(w.ch)
	<-w.done
}
