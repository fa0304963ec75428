package report

import (
	"runtime"
	"sync"
)

// inOrder computes work(w, i) for i from 0 to n-1 on up to workers
// goroutines (w, from 0, tells which one, for state of its own) and hands
// each result to use in the order of i, on the calling goroutine. At most
// window results wait to be used, so memory stays bounded however large
// n is. The first error from use stops the rest and is returned.
//
// The tables are written at Close from the JSON spool, each session and
// conversation decoded back and laid out on its own: that is the whole of
// the work once the capture is read, and it is spread over the cores.
func inOrder[T any](n, workers int, work func(w, i int) T, use func(i int, v T) error) error {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := range n {
			if err := use(i, work(0, i)); err != nil {
				return err
			}
		}
		return nil
	}
	window := 8 * workers
	slots := make([]chan T, window)
	for i := range slots {
		slots[i] = make(chan T, 1)
	}
	jobs := make(chan int)
	tokens := make(chan struct{}, window)
	done := make(chan struct{})
	var wg sync.WaitGroup
	// The dispatcher hands out indexes no more than window ahead of use,
	// so slot i%window is free again when i is handed out.
	wg.Go(func() {
		defer close(jobs)
		for i := range n {
			select {
			case tokens <- struct{}{}:
			case <-done:
				return
			}
			select {
			case jobs <- i:
			case <-done:
				return
			}
		}
	})
	for w := range workers {
		wg.Go(func() {
			for i := range jobs {
				slots[i%window] <- work(w, i)
			}
		})
	}
	var err error
	for i := range n {
		v := <-slots[i%window]
		if err = use(i, v); err != nil {
			break
		}
		<-tokens
	}
	close(done)
	// Workers finishing a job put it in its slot (capacity 1, free) and
	// find jobs closed.
	wg.Wait()
	return err
}

// tableWorkers is how many goroutines lay out tables at Close.
func tableWorkers() int { return runtime.GOMAXPROCS(0) }
