package dissect

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"time"
)

// List bits (MSNP8+ numbering, used for every version): FL forward, AL
// allow, BL block, RL reverse, PL pending (msnp-grammar.md §9).
const (
	ListFL = 1 << iota
	ListAL
	ListBL
	ListRL
	ListPL
)

var listNames = []struct {
	name string
	bit  uint8
}{{"FL", ListFL}, {"AL", ListAL}, {"BL", ListBL}, {"RL", ListRL}, {"PL", ListPL}}

func listBit(name string) uint8 {
	for _, l := range listNames {
		if l.name == name {
			return l.bit
		}
	}
	return 0
}

// ListNames spells a list bit set: "FL AL RL" → ["FL", "AL", "RL"].
func ListNames(bits uint8) []string {
	var out []string
	for _, l := range listNames {
		if bits&l.bit != 0 {
			out = append(out, l.name)
		}
	}
	return out
}

// Contact is one entry of the contact lists.
type Contact struct {
	Handle   string
	Friendly string
	// ID is the contact id (C=) of MSNP10+.
	ID     string
	Lists  uint8
	Groups []string
}

// ContactChange is one change to the contact lists after login.
type ContactChange struct {
	Time time.Time
	// TrID is the request's TrID; 0 for a change the server pushed.
	TrID    int64
	Op      string
	List    string
	Contact string
	Group   string
	// Server is set for changes the server pushed (ADD 0 RL, ADL 0).
	Server bool
}

// maxContacts bounds the contact entries kept per session; the service
// capped the forward list at a few hundred (error 210, list full), and
// all lists together at a few thousand.
const maxContacts = 20000

// maxContactChanges bounds the contact changes listed per session.
const maxContactChanges = 20000

type contactList struct {
	m        map[string]*Contact
	byID     map[string]string
	dropped  int
	snapshot []Contact
	taken    bool
}

func (l *contactList) get(handle string) *Contact {
	if l.m == nil {
		l.m = map[string]*Contact{}
		l.byID = map[string]string{}
	}
	c := l.m[handle]
	if c == nil {
		if len(l.m) >= maxContacts {
			l.dropped++
			return &Contact{Handle: handle}
		}
		c = &Contact{Handle: handle}
		l.m[handle] = c
	}
	return c
}

func (l *contactList) list() []Contact {
	out := make([]Contact, 0, len(l.m))
	for _, c := range l.m {
		if c.Lists == 0 {
			continue
		}
		cc := *c
		cc.Groups = slices.Clone(c.Groups)
		out = append(out, cc)
	}
	slices.SortFunc(out, func(a, b Contact) int { return strings.Compare(a.Handle, b.Handle) })
	return out
}

// ContactsAtLogin returns the contact lists as the login sync left them
// (SYN/LST, or the initial ADL in MSNP13+), sorted by handle.
func (s *Session) ContactsAtLogin() []Contact {
	if !s.contacts.taken {
		return s.contacts.list()
	}
	return s.contacts.snapshot
}

// ContactsAtEnd returns the contact lists at the end of the session.
func (s *Session) ContactsAtEnd() []Contact { return s.contacts.list() }

// HasContacts reports whether the session saw any contact list.
func (s *Session) HasContacts() bool { return len(s.contacts.m) > 0 || s.contacts.taken }

// DroppedContacts counts contacts not kept (maxContacts).
func (s *Session) DroppedContacts() int { return s.contacts.dropped }

// snapshotContacts fixes the login state of the lists, once: at the first
// client command after the sync was answered.
func (s *Session) snapshotContacts() {
	if s.contacts.taken || !s.syncDone {
		return
	}
	s.contacts.snapshot = s.contacts.list()
	s.contacts.taken = true
}

func (s *Session) change(ch ContactChange) {
	if !s.contacts.taken {
		return // still syncing: part of the login state
	}
	if len(s.ContactChanges) >= maxContactChanges {
		s.UnlistedContactChanges++
		return
	}
	s.ContactChanges = append(s.ContactChanges, ch)
}

// listEntry reads an LST line (msnp-grammar.md §9).
func (s *Session) listEntry(c *Command) {
	var handle, friendly, id, bitsTok, groups string
	var bits uint8
	switch {
	case c.HasTrID:
		// MSNP2-7: LST t LIST lv idx total handle friendly {groups}
		if len(c.Args) < 6 {
			return // an empty list: LST t BL lv 0 0
		}
		bits = listBit(c.Args[0])
		handle, friendly = c.Args[4], c.Args[5]
		groups = arg(c, 6)
	case strings.HasPrefix(arg(c, 0), "N="):
		// MSNP10+: LST N=handle F=friendly C=id bits {netid (12+)} {groups}
		i := 0
		for ; i < len(c.Args); i++ {
			a := c.Args[i]
			switch {
			case strings.HasPrefix(a, "N="):
				handle = a[2:]
			case strings.HasPrefix(a, "F="):
				friendly = a[2:]
			case strings.HasPrefix(a, "C="):
				id = a[2:]
			default:
				goto rest
			}
		}
	rest:
		bitsTok = argOf(c.Args, i)
		i++
		if s.Version.Number >= 12 && i < len(c.Args) && isDigits([]byte(c.Args[i])) && len(c.Args[i]) <= 3 && !strings.Contains(c.Args[i], "-") {
			i++ // network id
		}
		if i < len(c.Args) {
			groups = c.Args[i]
		}
	default:
		// MSNP8-9: LST handle friendly bits {groups}
		handle, friendly, bitsTok, groups = arg(c, 0), arg(c, 1), arg(c, 2), arg(c, 3)
	}
	if bitsTok != "" {
		n, _ := strconv.Atoi(bitsTok)
		bits = uint8(n)
	}
	if handle == "" {
		return
	}
	ct := s.contacts.get(handle)
	ct.Lists |= bits
	if friendly != "" {
		ct.Friendly = Unescape(friendly)
	}
	if id != "" {
		ct.ID = id
		s.contacts.byID[id] = handle
	}
	if groups != "" && bits&ListFL != 0 {
		for _, g := range strings.Split(groups, ",") {
			if g != "" && !slices.Contains(ct.Groups, g) {
				ct.Groups = append(ct.Groups, g)
			}
		}
	}
}

// listEdit applies an answered ADD/REM/ADC/REA, or one the server pushed
// (TrID 0), to the lists (msnp-grammar.md §10).
func (s *Session) listEdit(c *Command, tx *Transaction) {
	if c.ErrorCode > 0 {
		return
	}
	args := c.Args
	server := c.TrID == 0
	if !server {
		if tx == nil {
			return
		}
		args = tx.Args
	} else if len(args) > 1 && isDigits([]byte(args[1])) && c.Verb != "ADC" {
		args = append([]string{args[0]}, args[2:]...) // drop the list version
	}
	a := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	ch := ContactChange{Time: c.Time, TrID: c.TrID, Op: c.Verb, List: a(0), Server: server}
	switch c.Verb {
	case "ADD": // ADD t LIST handle friendly {gid}
		ch.Contact, ch.Group = a(1), a(3)
		ct := s.contacts.get(ch.Contact)
		ct.Lists |= listBit(ch.List)
		if f := a(2); f != "" {
			ct.Friendly = Unescape(f)
		}
		if ch.Group != "" && !slices.Contains(ct.Groups, ch.Group) {
			ct.Groups = append(ct.Groups, ch.Group)
		}
	case "REM": // REM t LIST handle|id {gid}
		handle := a(1)
		if h, ok := s.contacts.byID[handle]; ok {
			handle = h
		}
		ch.Contact, ch.Group = handle, a(2)
		ct := s.contacts.get(handle)
		if ch.Group != "" {
			ct.Groups = slices.DeleteFunc(ct.Groups, func(g string) bool { return g == ch.Group })
		} else {
			ct.Lists &^= listBit(ch.List)
		}
	case "ADC": // ADC t LIST N=handle {F=friendly} | ADC t FL C=id gid
		var handle, friendly, id string
		for _, x := range args[min(1, len(args)):] {
			switch {
			case strings.HasPrefix(x, "N="):
				handle = x[2:]
			case strings.HasPrefix(x, "F="):
				friendly = x[2:]
			case strings.HasPrefix(x, "C="):
				id = x[2:]
			default:
				ch.Group = x
			}
		}
		if handle == "" {
			handle = s.contacts.byID[id]
		}
		if handle == "" {
			handle = id
		}
		if !server && tx != nil && id == "" {
			// The reply carries the new contact's id (C=).
			for _, x := range c.Args {
				if strings.HasPrefix(x, "C=") {
					id = x[2:]
				}
			}
		}
		ch.Contact = handle
		ct := s.contacts.get(handle)
		ct.Lists |= listBit(ch.List)
		if friendly != "" {
			ct.Friendly = Unescape(friendly)
		}
		if id != "" {
			ct.ID = id
			s.contacts.byID[id] = handle
		}
		if ch.Group != "" && !slices.Contains(ct.Groups, ch.Group) {
			ct.Groups = append(ct.Groups, ch.Group)
		}
	case "REA": // REA t handle newname
		ch.List, ch.Contact = "", a(0)
		s.contacts.get(ch.Contact).Friendly = Unescape(a(1))
	default:
		return
	}
	s.change(ch)
}

// mlDoc is the <ml> document of ADL, RML and FQY (commands/adl.md).
type mlDoc struct {
	Domains []struct {
		Name     string `xml:"n,attr"`
		Contacts []struct {
			Name  string `xml:"n,attr"`
			Lists int    `xml:"l,attr"`
		} `xml:"c"`
	} `xml:"d"`
}

// maxMLEntries bounds the entries read from one <ml> payload; the service
// accepted about 150 per ADL (msnp-grammar.md §1).
const maxMLEntries = 4096

// mlEdit applies an ADL or RML payload (MSNP13+). For a client command it
// is applied when the server answers OK; a server push (ADL 0) at once.
func (s *Session) mlEdit(c *Command, payload []byte, add bool) {
	var doc mlDoc
	d := xml.NewDecoder(bytes.NewReader(payload))
	d.Strict = false
	if err := d.Decode(&doc); err != nil {
		return
	}
	n := 0
	for _, dom := range doc.Domains {
		for _, ct := range dom.Contacts {
			if n++; n > maxMLEntries {
				return
			}
			handle := ct.Name + "@" + dom.Name
			bits := uint8(ct.Lists)
			e := s.contacts.get(handle)
			op := c.Verb
			if add {
				e.Lists |= bits
			} else {
				e.Lists &^= bits
			}
			for _, l := range ListNames(bits) {
				s.change(ContactChange{Time: c.Time, TrID: c.TrID, Op: op, List: l, Contact: handle, Server: c.Dir == S2C})
			}
		}
	}
}
