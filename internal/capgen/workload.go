package capgen

import (
	"bytes"
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// A workload is a synthetic capture of many MSN Messenger users, for
// benchmarks: each user replays a recorded login (a Template) with their
// own addresses, ports and e-mail address, then spends a while on the
// notification server (pings, status changes, presence of contacts) and
// chats in switchboard sessions it opens (XFR SB, CAL) or is invited to
// (RNG, ANS), with MSG payloads, typing notifications and ACKs. Users
// arrive at random and overlap, so their connections interleave in the
// capture; each user's packets are built with Packets (impaired by
// Reorder and Duplicate), lost packets are dropped after, and everything is
// merged by packet time and streamed out. Memory is bounded by the users
// active at once, never by the size of the capture.

// Template defaults and the address plan of a workload.
const (
	// DefaultArrival is the mean packet time between two users' arrivals.
	// With the activity mix of a workload a user stays about three
	// minutes, so about 1500 users (some 3000 connections) are active at
	// once whatever the size of the capture.
	DefaultArrival = 120 * time.Millisecond
	// workloadStep is the packet time between two events of a user: a
	// round trip to the servers of the time.
	workloadStep = 20 * time.Millisecond
	// maxWorkloadUsers bounds the users of one workload: each gets its own
	// client address in 10.0.0.0/8 and an e-mail address of seven
	// characters ("u" and six digits).
	maxWorkloadUsers = 1_000_000
	// templateUser and templateBuddy are the account names of the
	// recorded templates. Users get names of the same length, so payload
	// lengths stay right.
	templateUser  = "example@hotmail.com"
	templateBuddy = "anotheruser"
	// templateDS and templateNS are the server addresses of the
	// templates, replaced in @conn endpoints and command lines.
	templateDS = "10.0.0.1"
	templateNS = "10.0.0.5"
)

// Template is a recorded login that a workload replays for many users: a
// transcript whose last event is the client's OUT on the notification
// server connection, where the user's activity is inserted.
type Template struct {
	// Name names the template in errors (its file name, say).
	Name string
	// Version is the protocol version the server chose in the first VER
	// reply, 0 when none did (then the user's commands take the forms of
	// MSNP8).
	Version int
	t       *dissect.Transcript
	ns      int   // the connection of the closing OUT
	out     int   // index of the closing OUT event
	trid    int64 // first TrID free after the template's
}

// LoadTemplates reads the transcript files at paths as templates, each
// named by its file's base name.
func LoadTemplates(paths []string) ([]*Template, error) {
	var tpls []*Template
	for _, p := range paths {
		t, err := dissect.ReadTranscript(p)
		if err != nil {
			return nil, err
		}
		tp, err := NewTemplate(filepath.Base(p), t)
		if err != nil {
			return nil, err
		}
		tpls = append(tpls, tp)
	}
	return tpls, nil
}

// NewTemplate checks that t can serve as a workload template and returns
// it. It fails with ErrTranscript when t does not end with the client's OUT.
// t is kept, not copied; the caller must not change it afterwards.
func NewTemplate(name string, t *dissect.Transcript) (*Template, error) {
	if t == nil || len(t.Events) == 0 {
		return nil, fmt.Errorf("%w: template %s: no events", ErrTranscript, name)
	}
	last := len(t.Events) - 1
	ev := t.Events[last]
	if ev.Dir != dissect.C2S || !bytes.Equal(ev.Data, []byte("OUT\r\n")) {
		return nil, fmt.Errorf("%w: template %s: does not end with the client's OUT", ErrTranscript, name)
	}
	tp := &Template{Name: name, t: t, ns: ev.Conn, out: last, trid: 1}
	for _, e := range t.Events {
		line, _, _ := bytes.Cut(e.Data, []byte("\r\n"))
		f := bytes.Fields(line)
		if len(f) >= 3 && e.Dir == dissect.S2C && string(f[0]) == "VER" && tp.Version == 0 {
			if v, ok := bytes.CutPrefix(f[2], []byte("MSNP")); ok {
				tp.Version, _ = strconv.Atoi(string(v))
			}
		}
		if len(f) >= 2 && e.Dir == dissect.C2S {
			if n, err := strconv.ParseInt(string(f[1]), 10, 32); err == nil && n >= tp.trid {
				tp.trid = n + 1
			}
		}
	}
	return tp, nil
}

// WorkloadOptions configure WriteWorkload.
type WorkloadOptions struct {
	// Templates are the logins users replay, each picked with equal
	// probability. At least one is needed.
	Templates []*Template
	// Size is the size of the capture to write, in bytes. Users are added
	// until the packets of those added reach it; the file ends up a few
	// kilobytes larger or smaller.
	Size int64
	// Seed drives every random choice; the output is a function of the
	// templates and the options.
	Seed int64
	// Reorder and Duplicate are the Options fields of the same names,
	// applied to each user's packets. Loss is the probability, 0 to 1,
	// that a packet is left out of the capture.
	Reorder, Duplicate, Loss float64
	// Arrival is the mean packet time between two users' arrivals
	// (DefaultArrival if zero); it sets how many users are active at once.
	Arrival time.Duration
	// Start is the arrival time of the first user (DefaultStartUnix if
	// zero).
	Start time.Time
}

// WorkloadStats describes a workload written.
type WorkloadStats struct {
	// Users, Conns and Chats count the users, their TCP connections and
	// the switchboard sessions among them.
	Users, Conns, Chats int
	// Packets counts the packets written, Dropped those left out (Loss).
	Packets, Dropped int
	// Bytes is the size of the file.
	Bytes int64
	// MaxActive is the largest number of users whose packets were held at
	// once: what bounds the generator's memory.
	MaxActive int
	// First and Last are the first and last packet times, as the file
	// stores them (in microseconds).
	First, Last time.Time
}

// WriteWorkload writes a synthetic capture of many users to w as a classic
// Ethernet pcap file, streaming: memory is bounded by the users active at
// once (see DefaultArrival), whatever opt.Size is. It fails with
// ErrOptions for options out of range, ErrTooManyPackets when one user
// needs more than MaxPackets packets, or with w's error.
func WriteWorkload(w io.Writer, opt WorkloadOptions) (WorkloadStats, error) {
	var st WorkloadStats
	switch {
	case len(opt.Templates) == 0:
		return st, fmt.Errorf("%w: no templates", ErrOptions)
	case opt.Size <= 0:
		return st, fmt.Errorf("%w: size %d is not positive", ErrOptions, opt.Size)
	case !(opt.Loss >= 0 && opt.Loss < 1):
		return st, fmt.Errorf("%w: loss probability %v not in [0, 1)", ErrOptions, opt.Loss)
	case opt.Arrival < 0:
		return st, fmt.Errorf("%w: arrival %v is negative", ErrOptions, opt.Arrival)
	}
	if opt.Arrival == 0 {
		opt.Arrival = DefaultArrival
	}
	if opt.Start.IsZero() {
		opt.Start = time.Unix(DefaultStartUnix, 0).UTC()
	}
	// Packets checks the other options; check them once up front.
	if _, err := (Options{Reorder: opt.Reorder, Duplicate: opt.Duplicate}).normalize(); err != nil {
		return st, err
	}
	pw, err := NewPcapWriter(w, Ethernet, 0)
	if err != nil {
		return st, err
	}
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), pcgStream))
	var (
		h       userHeap
		planned = pw.Bytes() // written plus held
		next    = opt.Start  // arrival of the next user
		last    time.Time    // time of the last packet written
	)
	for {
		// Once the capture has reached its size, lost packets can make
		// room for more users; the arrival time drawn for the next one
		// may then be long past. A user never arrives before the last
		// packet written, so that the capture stays in time order.
		if st.Packets > 0 && next.Before(last) {
			next = last
		}
		// Bring in every user who arrives before the next packet due, as
		// long as the capture needs more.
		for planned < opt.Size && st.Users < maxWorkloadUsers && (len(h) == 0 || !next.After(h[0].pkts[h[0].i].Time)) {
			u := newUser(opt, st.Users, rng.Uint64())
			tr, err := u.transcript()
			if err != nil {
				return st, err
			}
			pkts, err := Packets(tr, Options{
				Start: next, Step: workloadStep, Reorder: opt.Reorder, Duplicate: opt.Duplicate,
				Seed: int64(u.rng.Uint64()), ISN: u.rng.Uint32() | 1,
			})
			if err != nil {
				return st, fmt.Errorf("user %d: %w", st.Users, err)
			}
			st.Users++
			st.Conns += len(tr.Conns)
			st.Chats += u.chats
			if len(pkts) > 0 {
				for _, p := range pkts {
					planned += int64(pcapRecordLen + len(p.Data))
				}
				heap.Push(&h, &heldUser{pkts: pkts, order: st.Users})
				st.MaxActive = max(st.MaxActive, len(h))
			}
			next = next.Add(time.Duration(rng.ExpFloat64() * float64(opt.Arrival)))
		}
		if len(h) == 0 {
			break
		}
		u := h[0]
		p := u.pkts[u.i]
		u.i++
		if u.i == len(u.pkts) {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
		if opt.Loss > 0 && rng.Float64() < opt.Loss {
			planned -= int64(pcapRecordLen + len(p.Data))
			st.Dropped++
			continue
		}
		if err := pw.WritePacket(p); err != nil {
			return st, err
		}
		if st.Packets == 0 {
			st.First = p.Time.Truncate(time.Microsecond)
		}
		st.Last = p.Time.Truncate(time.Microsecond)
		last = p.Time
		st.Packets++
	}
	if err := pw.Flush(); err != nil {
		return st, err
	}
	st.Bytes = pw.Bytes()
	return st, nil
}

// heldUser is a user whose packets are being merged into the capture.
type heldUser struct {
	pkts  []Packet
	i     int // next packet
	order int // arrival order, to break ties
}

// userHeap orders held users by the time of their next packet.
type userHeap []*heldUser

func (h userHeap) Len() int { return len(h) }
func (h userHeap) Less(i, j int) bool {
	a, b := h[i].pkts[h[i].i].Time, h[j].pkts[h[j].i].Time
	if a.Equal(b) {
		return h[i].order < h[j].order
	}
	return a.Before(b)
}
func (h userHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *userHeap) Push(x any) {
	if u, ok := x.(*heldUser); ok {
		*h = append(*h, u)
	}
}
func (h *userHeap) Pop() any {
	old := *h
	u := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return u
}

// user builds the transcript of one workload user.
type user struct {
	rng    *rand.Rand
	tpl    *Template
	n      int // user number
	email  string
	buddy  string // replaces templateBuddy
	client netip.Addr
	ds, ns netip.Addr
	port   uint16 // next client port
	trid   int64  // next TrID on the notification server
	chats  int
	t      *dissect.Transcript
}

func newUser(opt WorkloadOptions, n int, seed uint64) *user {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	u := &user{
		rng:    rng,
		tpl:    opt.Templates[rng.IntN(len(opt.Templates))],
		n:      n,
		email:  userEmail(n),
		buddy:  fmt.Sprintf("buddy%06d", rng.IntN(maxWorkloadUsers)),
		client: netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}),
		ds:     netip.AddrFrom4([4]byte{65, 54, 239, byte(130 + rng.IntN(20))}),
		ns:     netip.AddrFrom4([4]byte{207, 46, 106, byte(1 + rng.IntN(254))}),
		port:   uint16(1025 + rng.IntN(60000)),
		t:      &dissect.Transcript{},
	}
	u.trid = u.tpl.trid
	return u
}

// userEmail returns the e-mail address of user n: as long as templateUser.
func userEmail(n int) string { return fmt.Sprintf("u%06d@hotmail.com", n%maxWorkloadUsers) }

// transcript returns the user's transcript: the template with the user's
// names and addresses, and the user's activity before the closing OUT.
func (u *user) transcript() (*dissect.Transcript, error) {
	tp := u.tpl
	conns := make([]int, len(tp.t.Conns))
	for i, c := range tp.t.Conns {
		conns[i] = u.conn(u.server(c.Server))
	}
	for i, ev := range tp.t.Events {
		if i == tp.out {
			u.activity(conns[tp.ns])
		}
		u.t.Events = append(u.t.Events, dissect.TranscriptEvent{
			Conn: conns[ev.Conn], Dir: ev.Dir, Wait: ev.Wait, Data: u.rewrite(ev.Data),
		})
	}
	return u.t, nil
}

// server maps a template server to the user's.
func (u *user) server(ap netip.AddrPort) netip.AddrPort {
	switch ap.Addr().String() {
	case templateDS:
		return netip.AddrPortFrom(u.ds, ap.Port())
	case templateNS:
		return netip.AddrPortFrom(u.ns, ap.Port())
	}
	return ap
}

// conn opens a connection of the user to server and returns its index.
func (u *user) conn(server netip.AddrPort) int {
	u.t.Conns = append(u.t.Conns, dissect.TranscriptConn{Client: netip.AddrPortFrom(u.client, u.port), Server: server})
	u.port++
	if u.port < 1025 {
		u.port = 1025
	}
	return len(u.t.Conns) - 1
}

// rewrite puts the user's names in a template event: server addresses in
// the command line, account names (of the same length) everywhere.
func (u *user) rewrite(data []byte) []byte {
	line, payload, found := bytes.Cut(data, []byte("\r\n"))
	out := make([]byte, 0, len(data)+16)
	l := bytes.ReplaceAll(line, []byte(templateDS+":"), []byte(u.ds.String()+":"))
	l = bytes.ReplaceAll(l, []byte(templateNS+":"), []byte(u.ns.String()+":"))
	out = append(out, l...)
	if found {
		out = append(out, '\r', '\n')
		out = append(out, payload...)
	}
	out = bytes.ReplaceAll(out, []byte(templateUser), []byte(u.email))
	return bytes.ReplaceAll(out, []byte(templateBuddy), []byte(u.buddy))
}

// add appends an event.
func (u *user) add(conn int, d dissect.Dir, wait time.Duration, data []byte) {
	u.t.Events = append(u.t.Events, dissect.TranscriptEvent{Conn: conn, Dir: d, Wait: wait, Data: data})
}

// addf appends a command line.
func (u *user) addf(conn int, d dissect.Dir, wait time.Duration, format string, a ...any) {
	u.add(conn, d, wait, fmt.Appendf(nil, format+"\r\n", a...))
}

// think returns a user's think time, exponential around mean.
func (u *user) think(mean time.Duration) time.Duration {
	return time.Duration(u.rng.ExpFloat64() * float64(mean))
}

// activity appends what the user does on notification connection ns
// between login and logout.
func (u *user) activity(ns int) {
	const c, s = dissect.C2S, dissect.S2C
	v8 := u.tpl.Version >= 8 || u.tpl.Version == 0
	for range 1 + u.rng.IntN(7) {
		wait := u.think(3 * time.Second)
		switch k := u.rng.IntN(10); {
		case k < 3:
			u.chat(ns, wait, true)
		case k < 6:
			u.chat(ns, wait, false)
		case k < 8:
			// Keep-alive (commands/png.md); QNG says when to ping again
			// since MSNP9.
			u.addf(ns, c, wait, "PNG")
			if u.tpl.Version >= 9 {
				u.addf(ns, s, 0, "QNG %d", 30+u.rng.IntN(40))
			} else {
				u.addf(ns, s, 0, "QNG")
			}
		default:
			// Status change and contacts' presence (commands/chg.md,
			// nln.md, fln.md).
			st := []string{"AWY", "BSY", "BRB", "PHN", "LUN", "NLN"}[u.rng.IntN(6)]
			tr := u.trid
			u.trid++
			if v8 {
				u.addf(ns, c, wait, "CHG %d %s 0", tr, st)
				u.addf(ns, s, 0, "CHG %d %s 0", tr, st)
			} else {
				u.addf(ns, c, wait, "CHG %d %s", tr, st)
				u.addf(ns, s, 0, "CHG %d %s", tr, st)
			}
			for range u.rng.IntN(4) {
				who := userEmail(u.rng.IntN(maxWorkloadUsers))
				if u.rng.IntN(4) == 0 {
					u.addf(ns, s, u.think(time.Second), "FLN %s", who)
				} else if v8 {
					u.addf(ns, s, u.think(time.Second), "NLN %s %s %s 0", st, who, who[:7])
				} else {
					u.addf(ns, s, u.think(time.Second), "NLN %s %s %s", st, who, who[:7])
				}
			}
		}
	}
}

// chat appends a switchboard session: one the user opens (XFR SB, then
// USR and CAL on the switchboard) or is invited to (RNG, then ANS).
func (u *user) chat(ns int, wait time.Duration, outgoing bool) {
	const c, s = dissect.C2S, dissect.S2C
	u.chats++
	sb := netip.AddrPortFrom(netip.AddrFrom4([4]byte{207, 46, byte(108 + u.rng.IntN(4)), byte(1 + u.rng.IntN(254))}), 1863)
	cookie := fmt.Sprintf("%d.%d.%d", u.rng.IntN(1e9), u.rng.IntN(1e9), u.rng.IntN(1e5))
	peer := userEmail(u.rng.IntN(maxWorkloadUsers))
	sess := u.rng.IntN(1e8)
	var conn int
	trid := 1
	if outgoing {
		tr := u.trid
		u.trid++
		u.addf(ns, c, wait, "XFR %d SB", tr)
		u.addf(ns, s, 0, "XFR %d SB %s CKI %s", tr, sb, cookie)
		conn = u.conn(sb)
		u.addf(conn, c, 0, "USR %d %s %s", trid, u.email, cookie)
		u.addf(conn, s, 0, "USR %d OK %s %s", trid, u.email, u.email[:7])
		trid++
		u.addf(conn, c, 0, "CAL %d %s", trid, peer)
		u.addf(conn, s, 0, "CAL %d RINGING %d", trid, sess)
		u.addf(conn, s, u.think(time.Second), "JOI %s %s", peer, peer[:7])
		trid++
	} else {
		u.addf(ns, s, wait, "RNG %d %s CKI %s %s %s", sess, sb, cookie, peer, peer[:7])
		conn = u.conn(sb)
		u.addf(conn, c, 0, "ANS %d %s %s %d", trid, u.email, cookie, sess)
		u.addf(conn, s, 0, "IRO %d 1 1 %s %s", trid, peer, peer[:7])
		u.addf(conn, s, 0, "ANS %d OK", trid)
		trid++
	}
	for range 4 + u.rng.IntN(40) {
		wait := 200*time.Millisecond + u.think(2*time.Second)
		mine := u.rng.IntN(2) == 0
		from := peer
		if mine {
			from = u.email
		}
		if u.rng.IntN(2) == 0 {
			u.msg(conn, mine, &trid, wait, from, typing(from), 'U')
			wait = u.think(time.Second)
		}
		ack := byte('N')
		if u.rng.IntN(4) == 0 {
			ack = 'A'
		}
		u.msg(conn, mine, &trid, wait, from, u.text(), ack)
	}
	if u.rng.IntN(2) == 0 {
		u.addf(conn, s, u.think(time.Second), "BYE %s", peer)
	}
	u.addf(conn, c, u.think(time.Second), "OUT")
}

// msg appends a MSG with payload body (commands/msg.md): from the client
// with a TrID and acknowledgement type ack, or from the server with the
// sender's names. A client message of type A is answered with ACK.
func (u *user) msg(conn int, mine bool, trid *int, wait time.Duration, from string, body []byte, ack byte) {
	const c, s = dissect.C2S, dissect.S2C
	if !mine {
		u.add(conn, s, wait, append(fmt.Appendf(nil, "MSG %s %s %d\r\n", from, from[:7], len(body)), body...))
		return
	}
	tr := *trid
	*trid++
	u.add(conn, c, wait, append(fmt.Appendf(nil, "MSG %d %c %d\r\n", tr, ack, len(body)), body...))
	if ack == 'A' {
		u.addf(conn, s, 0, "ACK %d", tr)
	}
}

// typing returns the payload of a typing notification.
func typing(who string) []byte {
	return []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: " + who + "\r\n\r\n\r\n")
}

// chatWords are the words of the workload's chat messages.
var chatWords = []string{
	"hi", "hey", "hello", "how", "are", "you", "doing", "today", "lol", "ok", "yeah", "no", "what",
	"is", "up", "not", "much", "just", "got", "home", "from", "school", "work", "did", "see", "the",
	"game", "last", "night", "brb", "gtg", "later", "cool", "thanks", "send", "me", "that", "file",
	"pic", "song", "msn", "is", "slow", "again", "can", "we", "talk", "tomorrow", "sure", "bye",
}

// text returns the payload of a chat message: MIME headers and a few words
// (commands/msg.md, text/plain).
func (u *user) text() []byte {
	b := []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=MS%20Sans%20Serif; EF=; CO=0; CS=0; PF=0\r\n\r\n")
	n := 1 + u.rng.IntN(12)
	if u.rng.IntN(8) == 0 {
		n += u.rng.IntN(60)
	}
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, chatWords[u.rng.IntN(len(chatWords))]...)
	}
	return b
}
