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
	user   string
	xfr    int // index into from.Redirects, or -1
	rng    int // index into from.Invitations, or -1
	used   bool
	cookie string
}

// maxCookieGrants bounds the cookies remembered for linking switchboard
// sessions to the notification sessions that granted them; an NS grants
// one per conversation, and a cookie is used within seconds.
const maxCookieGrants = 1 << 16

// cookieGrants is a bounded FIFO map of cookies.
type cookieGrants struct {
	m     map[string]*cookieGrant
	order []string
	head  int
}

func (g *cookieGrants) add(c *cookieGrant) {
	if g.m == nil {
		g.m = map[string]*cookieGrant{}
	}
	if len(g.order) < maxCookieGrants {
		g.order = append(g.order, c.cookie)
	} else {
		delete(g.m, g.order[g.head])
		g.order[g.head] = c.cookie
		g.head = (g.head + 1) % maxCookieGrants
	}
	g.m[c.cookie] = c
}

// grantXFR records the cookie of an XFR SB reply of notification session s.
func (s *Session) grantXFR(cookie string, index int) {
	if cookie == "" {
		return
	}
	s.a.grants.add(&cookieGrant{from: s, user: s.user(), xfr: index, rng: -1, cookie: cookie})
}

// grantRNG records an RNG invitation of notification session s.
func (s *Session) grantRNG(c *Command) {
	// RNG sessid addr:port CKI cookie handle friendly ... (commands/rng.md)
	inv := Invitation{Time: c.Time, SessionID: arg(c, 0), To: arg(c, 1), Cookie: arg(c, 3), Inviter: arg(c, 4), Friendly: Unescape(arg(c, 5))}
	s.Invitations = append(s.Invitations, inv)
	if inv.Cookie != "" {
		s.a.grants.add(&cookieGrant{from: s, user: s.user(), xfr: -1, rng: len(s.Invitations) - 1, cookie: inv.Cookie})
	}
}

// useCookie links switchboard session s, which logged in with cookie, to
// the notification session that granted it.
func (s *Session) useCookie(cookie string) {
	s.Cookie = cookie
	g := s.a.grants.m[cookie]
	if g == nil {
		s.LinkNote = "no captured notification session granted this switchboard cookie (XFR SB or RNG)"
		return
	}
	s.LinkNote = ""
	g.used = true
	if s.Parent == 0 {
		s.Parent = g.from.ID
	}
	if g.xfr >= 0 && g.xfr < len(g.from.Redirects) {
		g.from.Redirects[g.xfr].Session = s.ID
	}
	if g.rng >= 0 && g.rng < len(g.from.Invitations) {
		g.from.Invitations[g.rng].Session = s.ID
	}
}
