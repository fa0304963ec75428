package dissect

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strings"
	"time"
)

// PresenceEvent is one status change: the session's own (CHG) or a
// contact's (ILN, NLN, FLN) (commands/chg.md, iln.md, nln.md, fln.md).
type PresenceEvent struct {
	Time     time.Time
	Verb     string
	Status   string
	Friendly string
}

// ContactPresence is the presence timeline of one contact.
type ContactPresence struct {
	User   string
	Events []PresenceEvent
	// PSM and Media are the personal message and current media from the
	// contact's last UBX (commands/ubx.md).
	PSM, Media string
	// UnlistedEvents counts events beyond maxPresenceEvents.
	UnlistedEvents int
}

// maxPresenceEvents bounds the events kept per contact; a contact that
// changes status every minute for a day makes 1440.
const maxPresenceEvents = 2048

// maxPresenceContacts bounds the contacts with a presence timeline.
const maxPresenceContacts = 20000

// maxPresenceText bounds a kept personal message or media string.
const maxPresenceText = 1024

type presence struct {
	m       map[string]*ContactPresence
	dropped int
}

func (p *presence) get(user string) *ContactPresence {
	if p.m == nil {
		p.m = map[string]*ContactPresence{}
	}
	c := p.m[user]
	if c == nil {
		if len(p.m) >= maxPresenceContacts {
			p.dropped++
			return &ContactPresence{User: user}
		}
		c = &ContactPresence{User: user}
		p.m[user] = c
	}
	return c
}

// Presence returns the contacts' presence timelines, sorted by user.
func (s *Session) Presence() []*ContactPresence {
	out := make([]*ContactPresence, 0, len(s.presence.m))
	for _, c := range s.presence.m {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *ContactPresence) int { return strings.Compare(a.User, b.User) })
	return out
}

func (cp *ContactPresence) add(e PresenceEvent) {
	if len(cp.Events) >= maxPresenceEvents {
		cp.UnlistedEvents++
		return
	}
	cp.Events = append(cp.Events, e)
}

// presenceLine reads ILN, NLN and FLN (msnp-grammar.md §11): from MSNP14 a
// network id follows the handle.
func (s *Session) presenceLine(c *Command) {
	netid := 0
	if s.Version.Number >= 14 {
		netid = 1
	}
	switch c.Verb {
	case "ILN", "NLN": // ILN t status handle {netid} friendly ...; NLN status handle ...
		e := PresenceEvent{Time: c.Time, Verb: c.Verb, Status: arg(c, 0), Friendly: Unescape(arg(c, 2+netid))}
		s.presence.get(arg(c, 1)).add(e)
	case "FLN":
		s.presence.get(arg(c, 0)).add(PresenceEvent{Time: c.Time, Verb: c.Verb, Status: "FLN"})
	}
}

// ownStatus records the session's own status from a CHG reply or push.
func (s *Session) ownStatus(c *Command) {
	if c.ErrorCode > 0 || arg(c, 0) == "" {
		return
	}
	if len(s.OwnStatus) < maxPresenceEvents {
		s.OwnStatus = append(s.OwnStatus, PresenceEvent{Time: c.Time, Verb: c.Verb, Status: arg(c, 0)})
	}
}

// ubxData is the <Data> document of UBX and UUX (commands/ubx.md).
type ubxData struct {
	PSM          string `xml:"PSM"`
	CurrentMedia string `xml:"CurrentMedia"`
}

// personalMessage reads a UBX payload: UBX handle {netid} length.
func (s *Session) personalMessage(c *Command) {
	var d ubxData
	dec := xml.NewDecoder(bytes.NewReader(c.Payload))
	dec.Strict = false
	if err := dec.Decode(&d); err != nil {
		return
	}
	cp := s.presence.get(arg(c, 0))
	cp.PSM = d.PSM[:min(len(d.PSM), maxPresenceText)]
	cp.Media = d.CurrentMedia[:min(len(d.CurrentMedia), maxPresenceText)]
}
