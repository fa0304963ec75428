package dissect

import (
	"encoding/binary"
	"iter"
	"time"
)

// A chat's messages are kept encoded in one byte slice, not as a Message
// each: a switchboard session lists up to maxChatMessages of them until it
// ends, and with thousands of sessions open at once they were the largest
// part of the live heap (a 184-byte struct, a text string and a pointer
// each, all scanned by the collector). Encoded, a text message takes the
// length of its text and about 20 bytes more; the strings messages share
// (senders, content types, formats, ack types) are kept once per chat in
// a small table.
//
// A message is, in order:
//
//	flags     byte: Dir in the low 2 bits, then Acked (2 bits: none,
//	          delivered, not delivered), has Invite, has P2P
//	dir       byte: Dir when it does not fit in 2 bits (flags says 3)
//	time      varint seconds since the previous message's (zigzag),
//	          uvarint nanoseconds
//	strings   From, Ack, Type, ContentType, Format, TypingUser: each a
//	          string reference (see appendRef)
//	text      uvarint length, bytes
//	trid      varint (zigzag)
//	size      uvarint
//	invite    7 inline strings, when flagged
//	p2p       the header's numbers as uvarints, 2 inline strings, when
//	          flagged
//
// The flags byte is the only one written after the message is appended:
// an ACK or NAK sets Acked (setAcked).

const (
	flagDirMask  = 0x03
	flagDirWide  = 0x03 // Dir in the next byte
	flagAckShift = 2
	flagAckMask  = 0x03 << flagAckShift
	flagInvite   = 0x10
	flagP2P      = 0x20
)

// Acked states in the flags.
const (
	ackNone = iota
	ackDelivered
	ackNotDelivered
)

// maxRefs bounds a chat's table of shared strings; beyond it strings are
// written inline.
const maxRefs = 250

// msgLog is a chat's encoded messages.
type msgLog struct {
	buf  []byte
	n    int
	refs []string
	// hint is, for each direction (by its low bit) and each of a
	// message's string references in order, the index in refs it had
	// last: a chat's messages mostly repeat their sender, type, content
	// type and format, and alternate between the user's own, from the
	// client, and the others', from the server. A hint that misses costs
	// a pass over refs, reading the bytes of those of the same length,
	// which are seldom in the cache.
	hint [2][6]uint8
	// lastSec is the time, in seconds, of the message appended last:
	// times are written as differences from it.
	lastSec int64
	// loc is the location of the first message's time, given back to every
	// decoded time (a capture's times share one).
	loc *time.Location
	// types counts the messages by Type, in the order each type was
	// first seen, so that counting them needs no pass over buf, which is
	// no longer in the cache when the session ends. The first few are
	// kept here, beside the fields each append reads anyway, and the rest
	// in more.
	types [4]TypeCount
	more  []TypeCount
}

// TypeCount is the number of a chat's listed messages of one Type.
type TypeCount struct {
	Type string
	N    int
}

// logAdd appends m to l, with the text given apart from m (m.Text
// unused: the dissector's is a view of the payload, copied into the log
// only), and returns the offset of its flags byte.
func logAdd[T string | []byte](l *msgLog, m *Message, text T) int {
	if l.n == 0 {
		l.loc = m.Time.Location()
	}
	at := len(l.buf)
	flags := byte(0)
	if m.Dir < flagDirWide {
		flags = byte(m.Dir)
	} else {
		flags = flagDirWide
	}
	switch {
	case m.Acked == nil:
	case *m.Acked:
		flags |= ackDelivered << flagAckShift
	default:
		flags |= ackNotDelivered << flagAckShift
	}
	if m.Invite != nil {
		flags |= flagInvite
	}
	if m.P2P != nil {
		flags |= flagP2P
	}
	b := append(l.buf, flags)
	if flags&flagDirMask == flagDirWide {
		b = append(b, byte(m.Dir))
	}
	sec := m.Time.Unix()
	b = binary.AppendVarint(b, sec-l.lastSec)
	b = binary.AppendUvarint(b, uint64(m.Time.Nanosecond()))
	l.lastSec = sec
	for k, s := range [...]string{m.From, m.Ack, m.Type, m.ContentType, m.Format, m.TypingUser} {
		b = l.appendRef(b, s, &l.hint[m.Dir&1][k])
	}
	b = appendInline(b, text)
	b = binary.AppendVarint(b, m.TrID)
	b = binary.AppendUvarint(b, uint64(max(m.Size, 0)))
	if in := m.Invite; in != nil {
		for _, s := range [...]string{in.Command, in.Cookie, in.Application, in.AppGUID, in.File, in.FileSize, in.CancelCode} {
			b = appendInline(b, s)
		}
	}
	if p := m.P2P; p != nil {
		for _, v := range [...]uint64{uint64(p.SessionID), uint64(p.Identifier), p.Offset, p.TotalSize, uint64(p.Length),
			uint64(p.Flags), uint64(p.AckedIdentifier), uint64(p.AckedUniqueID), p.AckedDataSize, uint64(p.Footer)} {
			b = binary.AppendUvarint(b, v)
		}
		b = appendInline(b, p.SLP)
		b = appendInline(b, p.SLPContentType)
	}
	l.buf = b
	l.n++
	l.count(m.Type)
	return at
}

// count adds a message of type t to l.types.
func (l *msgLog) count(t string) {
	for i := range l.types {
		switch c := &l.types[i]; {
		case c.N == 0:
			*c = TypeCount{Type: t, N: 1}
			return
		case c.Type == t:
			c.N++
			return
		}
	}
	for i := range l.more {
		if l.more[i].Type == t {
			l.more[i].N++
			return
		}
	}
	l.more = append(l.more, TypeCount{Type: t, N: 1})
}

// counts returns the counts by type, in the order each type was first
// seen: l's own memory unless more than len(l.types) types were seen.
func (l *msgLog) counts() []TypeCount {
	n := 0
	for n < len(l.types) && l.types[n].N > 0 {
		n++
	}
	if len(l.more) == 0 {
		return l.types[:n:n]
	}
	return append(l.types[:n:n], l.more...)
}

// appendRef writes a string reference: 0 for "", 1 and the string inline,
// or 2+i for refs[i]. hint is the index to try first, and is updated.
func (l *msgLog) appendRef(b []byte, s string, hint *uint8) []byte {
	if s == "" {
		return append(b, 0)
	}
	if i := int(*hint); i < len(l.refs) && l.refs[i] == s {
		return binary.AppendUvarint(b, uint64(i)+2)
	}
	for i, r := range l.refs {
		if r == s {
			*hint = uint8(i)
			return binary.AppendUvarint(b, uint64(i)+2)
		}
	}
	if len(l.refs) < maxRefs {
		l.refs = append(l.refs, s)
		*hint = uint8(len(l.refs) - 1)
		return binary.AppendUvarint(b, uint64(len(l.refs)-1)+2)
	}
	return appendInline(append(b, 1), s)
}

func appendInline[T string | []byte](b []byte, s T) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// setAcked records an ACK (true) or NAK (false) for the message whose
// flags byte is at off.
func (l *msgLog) setAcked(off int, ok bool) {
	st := byte(ackNotDelivered)
	if ok {
		st = ackDelivered
	}
	l.buf[off] = l.buf[off]&^flagAckMask | st<<flagAckShift
}

// all decodes the messages in order into one Message, reused: yield must
// copy what it keeps. With text false, Text, Invite and P2P are left
// empty, and nothing is allocated.
func (l *msgLog) all(text bool) iter.Seq[*Message] {
	return func(yield func(*Message) bool) {
		d := logReader{b: l.buf, refs: l.refs}
		var m Message
		sec := int64(0)
		for range l.n {
			d.message(&m, &sec, l.loc, text)
			if !yield(&m) {
				return
			}
		}
	}
}

// message decodes the next message into m; sec is the previous message's
// time in seconds, and is updated.
func (d *logReader) message(m *Message, sec *int64, loc *time.Location, text bool) {
	*m = Message{}
	flags := d.byte()
	m.Dir = Dir(flags & flagDirMask)
	if flags&flagDirMask == flagDirWide {
		m.Dir = Dir(d.byte())
	}
	switch flags & flagAckMask >> flagAckShift {
	case ackDelivered:
		m.Acked = &delivered
	case ackNotDelivered:
		m.Acked = &notDelivered
	}
	*sec += d.varint()
	m.Time = time.Unix(*sec, int64(d.uvarint())).In(loc)
	m.From, m.Ack, m.Type, m.ContentType, m.Format, m.TypingUser = d.ref(), d.ref(), d.ref(), d.ref(), d.ref(), d.ref()
	if text {
		m.Text = d.inline()
	} else {
		d.skip()
	}
	m.TrID = d.varint()
	m.Size = int(d.uvarint())
	if !text {
		// The rest is the invite and P2P header, which only a full
		// decode reads; the caller moves to the next message itself.
		d.skipRest(flags)
		return
	}
	if flags&flagInvite != 0 {
		m.Invite = &Invite{Command: d.inline(), Cookie: d.inline(), Application: d.inline(), AppGUID: d.inline(),
			File: d.inline(), FileSize: d.inline(), CancelCode: d.inline()}
	}
	if flags&flagP2P != 0 {
		m.P2P = &P2PHeader{SessionID: uint32(d.uvarint()), Identifier: uint32(d.uvarint()), Offset: d.uvarint(),
			TotalSize: d.uvarint(), Length: uint32(d.uvarint()), Flags: uint32(d.uvarint()),
			AckedIdentifier: uint32(d.uvarint()), AckedUniqueID: uint32(d.uvarint()), AckedDataSize: d.uvarint(),
			Footer: uint32(d.uvarint())}
		m.P2P.SLP, m.P2P.SLPContentType = d.inline(), d.inline()
	}
}

// skipRest skips a message's invite and P2P header.
func (d *logReader) skipRest(flags byte) {
	if flags&flagInvite != 0 {
		for range 7 {
			d.skip()
		}
	}
	if flags&flagP2P != 0 {
		for range 10 {
			d.uvarint()
		}
		d.skip()
		d.skip()
	}
}

// logReader reads what logAdd wrote. The log is never truncated or
// written but by logAdd and setAcked, so a read past its end is a bug: it
// panics.
type logReader struct {
	b    []byte
	refs []string
}

func (d *logReader) byte() byte {
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *logReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		panic("dissect: corrupt message log")
	}
	d.b = d.b[n:]
	return v
}

func (d *logReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		panic("dissect: corrupt message log")
	}
	d.b = d.b[n:]
	return v
}

func (d *logReader) inline() string {
	n := d.uvarint()
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *logReader) skip() {
	d.b = d.b[d.uvarint():]
}

func (d *logReader) ref() string {
	switch k := d.uvarint(); k {
	case 0:
		return ""
	case 1:
		return d.inline()
	default:
		return d.refs[k-2]
	}
}
