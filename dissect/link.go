package dissect

import "time"

// Invitation is an RNG: the notification server inviting its user to a
// switchboard (commands/rng.md).
type Invitation struct {
	Time      time.Time
	SessionID string
	To        string
	Inviter   string
	Friendly  string
	Cookie    string
	// Session is the ID of the captured switchboard session that answered
	// it, 0 when none was captured.
	Session int
}

// cookieGrant is a switchboard cookie handed out by a notification server,
// with XFR SB (to the caller) or RNG (to the invited user).
type cookieGrant struct {
	from   *Session
	t      time.Time // packet time of the grant
	xfr    int       // index into from.Redirects, or -1
	rng    int       // index into from.Invitations, or -1
	used   bool
	cookie string
}

// maxCookieGrants bounds the cookies remembered for linking switchboard
// sessions to the notification sessions that granted them; an NS grants
// one per conversation, and a cookie is used within seconds.
const maxCookieGrants = 1 << 16

// LinkWindow is how long, in packet time, a referral (XFR NS) or a
// switchboard cookie (XFR SB, RNG) is remembered for linking the
// connection that follows it. Clients connect within seconds, and
// reassembly delivers a connection at most ReorderWindow + FlushInterval
// (12 s) late; remembering longer keeps the granting sessions, and all
// they hold, in memory: 5 minutes cost 20 MB on the 1 GB benchmark.
const LinkWindow = time.Minute

// cookieGrants is a bounded map of cookies, forgotten first in, first out
// when too many or older than LinkWindow.
type cookieGrants struct {
	m     map[string]*cookieGrant
	queue []*cookieGrant
	head  int
	now   time.Time // newest grant time seen
}

func (g *cookieGrants) add(c *cookieGrant) {
	if g.m == nil {
		g.m = map[string]*cookieGrant{}
	}
	if c.t.After(g.now) {
		g.now = c.t
	}
	for g.head < len(g.queue) {
		old := g.queue[g.head]
		if len(g.queue)-g.head < maxCookieGrants && g.now.Sub(old.t) <= LinkWindow {
			break
		}
		if g.m[old.cookie] == old {
			delete(g.m, old.cookie)
		}
		if !old.used {
			old.from.linkSettled()
		}
		g.queue[g.head] = nil
		g.head++
	}
	if g.head > 1024 && g.head*2 > len(g.queue) {
		n := copy(g.queue, g.queue[g.head:])
		clear(g.queue[n:])
		g.queue, g.head = g.queue[:n], 0
	}
	c.from.awaiting++
	g.queue = append(g.queue, c)
	g.m[c.cookie] = c
}

// grantXFR records the cookie of an XFR SB reply of notification session s.
func (s *Session) grantXFR(cookie string, index int) {
	if cookie == "" {
		return
	}
	s.a.grants.add(&cookieGrant{from: s, t: s.EndTime, xfr: index, rng: -1, cookie: cookie})
}

// grantRNG records an RNG invitation of notification session s.
func (s *Session) grantRNG(c *Command) {
	// RNG sessid addr:port CKI cookie handle friendly ... (commands/rng.md)
	inv := Invitation{Time: c.Time, SessionID: arg(c, 0), To: arg(c, 1), Cookie: arg(c, 3), Inviter: arg(c, 4), Friendly: Unescape(arg(c, 5))}
	s.Invitations = append(s.Invitations, inv)
	if inv.Cookie != "" {
		s.a.grants.add(&cookieGrant{from: s, t: c.Time, xfr: -1, rng: len(s.Invitations) - 1, cookie: inv.Cookie})
	}
}

// useCookie links switchboard session s, which logged in with cookie, to
// the notification session that granted it.
func (s *Session) useCookie(cookie string) {
	s.Cookie = cookie
	g := s.a.grants.m[cookie]
	if g != nil && s.EndTime.Sub(g.t) > LinkWindow {
		g = nil // forgotten, even if not yet evicted
	}
	if g == nil {
		s.LinkNote = "no captured notification session granted this switchboard cookie (XFR SB or RNG)"
		return
	}
	s.LinkNote = ""
	if s.Parent == 0 {
		s.Parent = g.from.ID
	}
	if g.used {
		// Another switchboard session followed this cookie first: it is
		// the one the grant names. The granting session, no longer
		// awaiting anything, may already be in the report's hands.
		return
	}
	g.from.linkSettled()
	g.used = true
	if g.xfr >= 0 && g.xfr < len(g.from.Redirects) {
		g.from.Redirects[g.xfr].Session = s.ID
	}
	if g.rng >= 0 && g.rng < len(g.from.Invitations) {
		g.from.Invitations[g.rng].Session = s.ID
	}
}
