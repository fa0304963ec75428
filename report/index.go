package report

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// The document's index: where each final session's and conversation's
// encoding is in the spool, in report order. Each is an index record when
// it is spooled, whose bytes sort in report order:
//
//	kind (recConv before recSession), the start (appendStamp), a number
//	(8 bytes, big endian: the session ID, or the conversation's creation
//	order), then the spool offset and length (uvarints) and names (a
//	uvarint length and the name each): the session's user, or the
//	conversation's participants.
//
// Sessions sort by start, then ID; conversations by start, then creation
// order, as BuildConversations numbers them. The records are spooled as
// they come (a uvarint length, then the record), and sorted at Close by a
// recordSorter, once the sessions' memory is free: held while reading,
// even a megabyte of them meant 10% more collections under the memory
// limit. The sorted records become two posIndexes, read by position, and
// the users' records of their sessions and of each conversation with its
// number (users.go). Nothing of the index is held in memory beyond what
// the sorter and the spools hold, whatever the number of sessions:
// before, the sorted entries (32 bytes a session, 40 a conversation)
// were, about 50 MB for a 6 GB capture.
const (
	recConv    byte = 'C'
	recSession byte = 'S'
)

// index records a spooled session (kind recSession, num its ID, names its
// user) or conversation (recConv, num its creation order, names its
// participants).
func (j *jsonReport) index(kind byte, start stamp, num int, off int64, n int, names ...string) {
	r := append(j.rec[:0], kind)
	r = appendStamp(r, start)
	r = binary.BigEndian.AppendUint64(r, uint64(num))
	r = binary.AppendUvarint(r, uint64(off))
	r = binary.AppendUvarint(r, uint64(n))
	for _, name := range names {
		r = binary.AppendUvarint(r, uint64(len(name)))
		r = append(r, name...)
	}
	j.rec = r
	if j.err != nil {
		return
	}
	var l [binary.MaxVarintLen64]byte
	_, err := j.idx.write(binary.AppendUvarint(l[:0], uint64(len(r))))
	if err == nil {
		_, err = j.idx.write(r)
	}
	j.err = err
}

// appendStamp appends t so that the bytes compare as the times do.
func appendStamp(dst []byte, t stamp) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.sec)^1<<63)
	return binary.BigEndian.AppendUint32(dst, uint32(t.nsec))
}

var errBadIndexRecord = errors.New("report: internal error: a bad index record")

// buildIndex sorts the index records into the sessions' and the
// conversations' posIndexes, and records each conversation's participants
// with its number.
func (j *jsonReport) buildIndex() error {
	defer j.entries.close()
	if err := j.sortIndex(); err != nil {
		return err
	}
	var names []string
	convs := 0
	err := j.entries.each(func(rec []byte) error {
		if len(rec) < 21 {
			return errBadIndexRecord
		}
		kind, num := rec[0], binary.BigEndian.Uint64(rec[13:])
		rest := rec[21:]
		var v [2]uint64
		for i := range v {
			x, k := binary.Uvarint(rest)
			if k <= 0 {
				return errBadIndexRecord
			}
			v[i], rest = x, rest[k:]
		}
		off, n := v[0], v[1]
		names = names[:0]
		for len(rest) > 0 {
			l, k := binary.Uvarint(rest)
			if k <= 0 || uint64(len(rest)-k) < l {
				return errBadIndexRecord
			}
			names = append(names, string(rest[k:k+int(l)]))
			rest = rest[k+int(l):]
		}
		switch kind {
		case recSession:
			if n > math.MaxInt32 || num > math.MaxInt32 {
				return fmt.Errorf("report: session %d: %d bytes of JSON, more than the report handles", num, n)
			}
			if len(names) == 1 && names[0] != "" {
				j.addUserSession(names[0], int(num))
				if j.err != nil {
					return j.err
				}
			}
			return j.sessIdx.add(off, n<<32|num)
		case recConv:
			convs++
			j.addUserConv(convs, names)
			if j.err != nil {
				return j.err
			}
			return j.convIdx.add(off, n)
		}
		return errBadIndexRecord
	})
	if err != nil {
		return err
	}
	if err := j.sessIdx.flush(); err != nil {
		return err
	}
	return j.convIdx.flush()
}

// sortIndex reads the index records back from their spool into the
// sorter.
func (j *jsonReport) sortIndex() error {
	defer j.idx.close()
	if err := j.idx.flush(); err != nil {
		return err
	}
	br := bufio.NewReaderSize(j.idx.reader(), 64<<10)
	var rec []byte
	for {
		var err error
		rec, err = readChunk(br, rec)
		if err == io.EOF {
			return nil
		}
		if err == nil {
			err = j.entries.add(rec)
		}
		if err != nil {
			return fmt.Errorf("report: reading back the JSON index: %w", err)
		}
	}
}

// session returns where the i-th session, in report order, is spooled,
// and its ID.
func (j *jsonReport) session(i int) (piece, int, error) {
	off, v, err := j.sessIdx.get(i)
	if err != nil {
		return piece{}, 0, fmt.Errorf("report: reading back the index of session %d in report order: %w", i+1, err)
	}
	return piece{int64(off), int(v >> 32)}, int(v & math.MaxUint32), nil
}

// conversation returns where the i-th conversation is spooled.
func (j *jsonReport) conversation(i int) (piece, error) {
	off, n, err := j.convIdx.get(i)
	if err != nil {
		return piece{}, fmt.Errorf("report: reading back the index of conversation %d: %w", i+1, err)
	}
	return piece{int64(off), int(n)}, nil
}

// posIndex holds entries of two uint64s in a spool, read back by
// position. It is safe for concurrent reads once flushed: the tables
// read conversations from several goroutines (inOrder).
type posIndex struct {
	sp spool
	n  int
	mu sync.Mutex
	// blk is the block of entries in buf, plus one (0: none).
	blk int
	buf []byte
}

const (
	posEntry = 16
	// posBlock is how many entries are read back at once.
	posBlock = 4096
)

// add appends an entry.
func (x *posIndex) add(a, b uint64) error {
	var e [posEntry]byte
	binary.BigEndian.PutUint64(e[:], a)
	binary.BigEndian.PutUint64(e[8:], b)
	x.n++
	_, err := x.sp.write(e[:])
	return err
}

// flush makes the entries added readable.
func (x *posIndex) flush() error { return x.sp.flush() }

// get returns the i-th entry; flush first.
func (x *posIndex) get(i int) (a, b uint64, err error) {
	if i < 0 || i >= x.n {
		return 0, 0, fmt.Errorf("entry %d of %d", i, x.n)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if blk := i / posBlock; blk+1 != x.blk {
		first := blk * posBlock
		x.buf, err = x.sp.read(x.buf, int64(first)*posEntry, min(posBlock, x.n-first)*posEntry)
		if err != nil {
			x.blk = 0
			return 0, 0, err
		}
		x.blk = blk + 1
	}
	e := x.buf[i%posBlock*posEntry:]
	return binary.BigEndian.Uint64(e), binary.BigEndian.Uint64(e[8:]), nil
}

// close lets go of the entries; n stays.
func (x *posIndex) close() {
	x.sp.close()
	x.buf, x.blk = nil, 0
}
