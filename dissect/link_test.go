package dissect

import (
	"net/netip"
	"testing"
	"time"
)

type nopHandler struct{}

func (nopHandler) Command(*Session, *Command) {}
func (nopHandler) Anomaly(*Session, *Anomaly) {}
func (nopHandler) SessionEnd(*Session)        {}

// TestAwaitingLinks follows a referral and a switchboard cookie: each
// counts while nobody has followed it, and stops counting once followed or
// forgotten (LinkWindow).
func TestAwaitingLinks(t *testing.T) {
	a := NewAnalyzer(nopHandler{}, Limits{})
	t0 := time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)
	client := netip.MustParseAddr("192.168.0.2")
	ds := a.Open(ConnInfo{Client: netip.AddrPortFrom(client, 50001), Server: netip.MustParseAddrPort("10.0.0.1:1863"), Start: t0, SYN: true})
	ds.Feed(C2S, t0, []byte("VER 1 MSNP7 CVR0\r\nUSR 2 MD5 I a@b.com\r\n"))
	ds.Feed(S2C, t0, []byte("VER 1 MSNP7\r\nXFR 2 NS 10.0.0.5:1863 0 10.0.0.1:1863\r\n"))
	ds.End(t0.Add(time.Second), true)
	if n := ds.AwaitingLinks(); n != 1 {
		t.Fatalf("dispatch session awaits %d links after its XFR NS, want 1", n)
	}
	// LinksSettled counts each time a session's AwaitingLinks goes down.
	settled := func(want uint64) {
		t.Helper()
		if got := ds.LinksSettled(); got != want {
			t.Fatalf("LinksSettled = %d, want %d", got, want)
		}
	}
	settled(0)
	ns := a.Open(ConnInfo{Client: netip.AddrPortFrom(client, 50002), Server: netip.MustParseAddrPort("10.0.0.5:1863"), Start: t0.Add(2 * time.Second), SYN: true})
	if ns.Parent != ds.ID || ds.Redirects[0].Session != ns.ID || ds.AwaitingLinks() != 0 {
		t.Fatalf("after the NS connection: parent %d, redirect session %d, awaiting %d", ns.Parent, ds.Redirects[0].Session, ds.AwaitingLinks())
	}
	settled(1)

	t1 := t0.Add(time.Minute)
	ns.Feed(C2S, t1, []byte("XFR 9 SB\r\nXFR 10 SB\r\n"))
	ns.Feed(S2C, t1, []byte("XFR 9 SB 10.0.0.9:1865 CKI 111.222\r\nXFR 10 SB 10.0.0.9:1865 CKI 333.444\r\n"))
	if n := ns.AwaitingLinks(); n != 2 {
		t.Fatalf("notification session awaits %d links after two XFR SB, want 2", n)
	}
	settled(1)
	sb := a.Open(ConnInfo{Client: netip.AddrPortFrom(client, 50003), Server: netip.MustParseAddrPort("10.0.0.9:1865"), Start: t1, SYN: true})
	sb.Feed(C2S, t1, []byte("USR 1 a@b.com 111.222\r\n"))
	if sb.Parent != ns.ID || ns.AwaitingLinks() != 1 {
		t.Fatalf("after the switchboard login: parent %d, awaiting %d", sb.Parent, ns.AwaitingLinks())
	}
	settled(2)
	// A cookie granted past LinkWindow later forgets the unused one.
	later := t1.Add(LinkWindow + time.Minute)
	ns.Feed(C2S, later, []byte("XFR 11 SB\r\n"))
	ns.Feed(S2C, later, []byte("XFR 11 SB 10.0.0.9:1865 CKI 555.666\r\n"))
	if n := ns.AwaitingLinks(); n != 1 {
		t.Fatalf("awaiting %d links after the old cookie expired and a new one came, want 1", n)
	}
	settled(3)
	// A cookie followed after LinkWindow links nothing, evicted or not.
	late := later.Add(LinkWindow + time.Second)
	sb2 := a.Open(ConnInfo{Client: netip.AddrPortFrom(client, 50004), Server: netip.MustParseAddrPort("10.0.0.9:1865"), Start: late, SYN: true})
	sb2.Feed(C2S, late, []byte("USR 1 a@b.com 555.666\r\n"))
	if sb2.Parent != 0 || sb2.LinkNote == "" || ns.AwaitingLinks() != 1 {
		t.Fatalf("cookie used %v after its grant: parent %d, note %q, awaiting %d", LinkWindow+time.Second, sb2.Parent, sb2.LinkNote, ns.AwaitingLinks())
	}
}

func TestMediaType(t *testing.T) {
	for in, want := range map[string]string{
		"text/plain; charset=UTF-8": "text/plain",
		" Text/X-MSMSGSCONTROL ":    "text/x-msmsgscontrol",
		"application/x-msnmsgrp2p":  "application/x-msnmsgrp2p",
		"Image/Other;x=1":           "image/other",
		"":                          "",
	} {
		if got := mediaType(in); got != want {
			t.Errorf("mediaType(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { mediaType("Text/Plain; charset=UTF-8") }); n != 0 {
		t.Errorf("mediaType of a known type allocates %v times", n)
	}
}
