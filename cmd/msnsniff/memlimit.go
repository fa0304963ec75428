package main

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
)

// The memory limit. Go's collector lets the heap grow to twice what was
// live after the last collection (GOGC=100), so a run whose sessions hold
// 50 MB peaks at over 120 MB. msnsniff sets a soft memory limit instead
// (runtime/debug.SetMemoryLimit, --memory-limit), so that the collector
// runs more often as the limit nears and memory stays flat on captures of
// any size.
//
// A limit below what the sessions open at once need would have the
// collector run without end. So after each collection the limit is raised,
// when needed, to leave the heap room to grow by half of what is live
// (floorRatio): the run then costs at most about twice the collection work
// of GOGC=100, and memory grows only with the sessions open at once.

// The default, 90 MiB, keeps the peak RSS of a run under 100 MB unless
// the sessions open at once need more.

// floorRatio is the least the limit leaves the heap, over what is live.
const floorRatio = 1.5

// parseSize reads a size in bytes: a number with an optional unit, B, kB,
// KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	num, mult := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: not a size (90MiB, 1.5GB, 0)", s)
	}
	return int64(f * mult), nil
}

// memLimiter holds the limit while runs are active: the limit is the
// process's, and tests call run concurrently.
var memLimiter struct {
	sync.Mutex
	active int
	base   int64
	prev   int64 // the limit before the first active run
	gen    int   // ends the watch of a previous first run
}

// limitMemory sets the soft memory limit to base for the run and keeps it
// above floorRatio times the live heap; the returned func ends that and
// puts back the previous limit when the last run ends. base 0 leaves the
// runtime alone (GOGC, GOMEMLIMIT).
func limitMemory(base int64) (done func()) {
	if base <= 0 {
		return func() {}
	}
	l := &memLimiter
	l.Lock()
	defer l.Unlock()
	l.active++
	if l.active == 1 {
		l.base = base
		l.gen++
		l.prev = debug.SetMemoryLimit(base)
		armLimitWatch(l.gen)
	} else {
		l.base = min(l.base, base)
	}
	return sync.OnceFunc(func() {
		l.Lock()
		defer l.Unlock()
		l.active--
		if l.active == 0 {
			l.gen++
			debug.SetMemoryLimit(l.prev)
		}
	})
}

// armLimitWatch has adjustLimit run after the next collection.
func armLimitWatch(gen int) {
	runtime.AddCleanup(new(watchToken), adjustLimit, gen)
}

// watchToken is an object that nothing keeps: it is collected by the next
// cycle, whose end its cleanup marks. It has a pointer so that it is not
// allocated in a block with other small objects.
type watchToken struct{ _ *int }

var limitSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/memory/classes/heap/free:bytes"},
}

// adjustLimit runs after each collection while a run is active: it sets
// the limit to the larger of the base and what leaves the live heap room
// to grow by floorRatio, plus the runtime's memory other than the heap.
func adjustLimit(gen int) {
	l := &memLimiter
	l.Lock()
	defer l.Unlock()
	if l.active == 0 || gen != l.gen {
		return
	}
	live, other := readLimitSamples()
	debug.SetMemoryLimit(limitFor(l.base, live, other))
	armLimitWatch(gen)
}

// readLimitSamples returns the live heap and the runtime's memory that is
// not the heap's, in bytes.
func readLimitSamples() (live, other uint64) {
	metrics.Read(limitSamples)
	v := func(i int) uint64 {
		if limitSamples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return limitSamples[i].Value.Uint64()
	}
	live = v(0)
	heap := v(2) + v(3) + v(4) + v(5)
	if total := v(1); total > heap {
		other = total - heap
	}
	return live, other
}

// limitFor is the limit for a base and the live heap and other memory.
func limitFor(base int64, live, other uint64) int64 {
	floor := float64(live)*floorRatio + float64(other)
	if floor >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(base, int64(floor))
}
