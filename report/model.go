package report

import (
	"time"
)

// SchemaVersion is the version of the JSON shape below. It changes only on
// purpose, together with the golden files; fields are added, never renamed.
//
// History: 1 — first release.
const SchemaVersion = 1

// TimeFormat is how times are written: RFC 3339 in UTC with microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Time is a packet timestamp that marshals as TimeFormat in UTC.
type Time struct{ time.Time }

// MarshalJSON writes the time as a TimeFormat string.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeFormat)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeFormat)
	return append(b, '"'), nil
}

// String returns the time in TimeFormat.
func (t Time) String() string { return t.UTC().Format(TimeFormat) }

// Report is the whole analysis of a capture: what -T json writes.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Capture       Capture   `json:"capture"`
	Sessions      []Session `json:"sessions"`
	// Conversations are the switchboard chats, each joining the sessions
	// of every captured participant.
	Conversations []Conversation `json:"conversations"`
	// Users lists every user seen logging in, with their sessions,
	// conversations and contact lists.
	Users []User `json:"users"`
}

// Capture describes the input as a whole.
type Capture struct {
	Files   []File `json:"files"`
	Packets int64  `json:"packets"`
	Bytes   int64  `json:"bytes"`
	// First and Last are the first and last packet times, null for a
	// capture without packets.
	First *Time `json:"first"`
	Last  *Time `json:"last"`
	// Connections counts the TCP connections analysed as MSNP.
	Connections int `json:"connections"`
	// Skipped counts packets not analysed, by reason (non_ip, non_tcp,
	// other_port, decode_error, ...); every reason is listed, 0 or not.
	Skipped []Count `json:"skipped"`
	// Anomalies totals the sessions' anomalies by kind, with those of the
	// capture as a whole (timestamp_jump: a packet whose time lay far from
	// the capture's clock, alone, so that timeouts did not follow it).
	Anomalies []Count `json:"anomalies"`
	// Errors lists input failures (a damaged file, a read error), each
	// naming the file and where.
	Errors []string `json:"errors"`
	// Live describes a live capture (-i); null when files were read.
	Live *Live `json:"live"`
	// Gateway counts what the HTTP-gateway reader saw on the gateway ports
	// (connections, requests, responses, sessions, and what it could not
	// use), every count listed; empty when the gateway is off.
	Gateway []Count `json:"gateway"`
}

// Live is what the kernel said of a live capture.
type Live struct {
	Interface string `json:"interface"`
	// Received counts packets that passed the kernel filter; Dropped those
	// the kernel dropped for lack of buffer space.
	Received int64 `json:"received"`
	Dropped  int64 `json:"dropped"`
}

// Count is a named count.
type Count struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// File is one capture file read.
type File struct {
	Name string `json:"name"`
	// Format is "pcap", "pcapng", or "live" for an interface.
	Format   string `json:"format"`
	LinkType string `json:"link_type"`
	Packets  int64  `json:"packets"`
	Bytes    int64  `json:"bytes"`
	// Complete is false when the file could not be read to its end.
	Complete bool `json:"complete"`
}

// DirCount counts something per direction.
type DirCount struct {
	C2S int64 `json:"c2s"`
	S2C int64 `json:"s2c"`
}

// Session is the report of one MSNP connection.
type Session struct {
	ID int `json:"id"`
	// Kind is dispatch, notification, switchboard or unknown.
	Kind string `json:"kind"`
	// KindEvidence names what decided Kind ("XFR NS in reply to USR").
	KindEvidence string `json:"kind_evidence"`
	Client       string `json:"client"`
	Server       string `json:"server"`
	Start        Time   `json:"start"`
	End          Time   `json:"end"`
	// Closed is true when the connection was seen to close (FIN/RST);
	// false when it was still open at the end of the capture.
	Closed bool `json:"closed"`
	// Partial is true when the connection's start (its SYN) was not
	// captured.
	Partial bool `json:"partial"`
	// DetectedBy says how the connection was recognised: "port" or
	// "content".
	DetectedBy string `json:"detected_by"`
	// Transport is "tcp", or "http-gateway" for MSNP through the HTTP
	// gateway; then HTTPConnections lists the TCP connections used
	// ("client -> server"), the first 1024 of them;
	// UnlistedHTTPConnections counts the others; and EmptyPolls counts
	// polls without data.
	Transport               string   `json:"transport"`
	HTTPConnections         []string `json:"http_connections"`
	UnlistedHTTPConnections int      `json:"unlisted_http_connections"`
	EmptyPolls              int      `json:"empty_polls"`
	// User is the session's own user (from its login), empty when not
	// seen.
	User string `json:"user"`
	// Parent is the ID of the session whose referral (XFR, or RNG for a
	// switchboard) led to this one.
	Parent *int `json:"parent"`
	// LinkNote says why a switchboard has no parent, when it should.
	LinkNote string `json:"link_note"`
	// CookieRef is a reference to a switchboard's authentication cookie
	// ("sha256:" and 8 hex digits), the same on the session that received
	// it; the cookie itself is a credential and is never written.
	CookieRef    *string       `json:"cookie_ref"`
	Version      Version       `json:"version"`
	Auth         *Auth         `json:"auth"`
	Redirects    []Redirect    `json:"redirects"`
	Transactions []Transaction `json:"transactions"`
	GroupOps     []GroupOp     `json:"group_ops"`
	// Groups is the group table after the last operation, ordered by id.
	Groups    []Group   `json:"groups"`
	Errors    []Error   `json:"errors"`
	Anomalies []Anomaly `json:"anomalies"`
	// Out is the first OUT seen, null when none.
	Out *Out `json:"out"`
	// Invitations are the RNGs a notification session received.
	Invitations []Invitation `json:"invitations"`
	// Chat is a switchboard's participants and message counts, null for
	// other kinds.
	Chat *Chat `json:"chat"`
	// Contacts is the contact list at login and at the end, with each
	// change; null when the session saw none.
	Contacts *Contacts `json:"contacts"`
	// Presence is the session user's own status changes and the contacts'
	// presence timelines; null when none was seen.
	Presence *Presence `json:"presence"`
	Commands DirCount  `json:"commands"`
	Bytes    DirCount  `json:"bytes"`
	// LostBytes counts bytes never captured, both directions.
	LostBytes int64 `json:"lost_bytes"`
	// UnknownSizeGaps counts the gaps, both directions, whose size the
	// reassembly could not tell (a lost HTTP-gateway response, a broken
	// connection); their bytes are in neither LostBytes nor Bytes.
	UnknownSizeGaps int `json:"unknown_size_gaps"`
	// UnmatchedReplies counts server lines with a TrID no client command
	// used.
	UnmatchedReplies int `json:"unmatched_replies"`
	// EvictedPending counts unanswered transactions dropped from matching
	// by the pending limit.
	EvictedPending int `json:"evicted_pending"`
	// UnlistedTransactions counts transactions matched but left out of
	// Transactions by the listing limit.
	UnlistedTransactions int `json:"unlisted_transactions"`
}

// Version is the version negotiation.
type Version struct {
	// Offered lists what the client offered, in its order, CVR0 included.
	Offered []string `json:"offered"`
	// Selected is what the server chose; null when it refused or did not
	// answer.
	Selected *string `json:"selected"`
	// Refused is true when the server answered "VER t 0".
	Refused bool `json:"refused"`
	// Rules is the version whose rules were used to read the session
	// ("MSNP7"), null when unknown; RulesSource says how it was found.
	Rules       *string `json:"rules"`
	RulesSource string  `json:"rules_source"`
}

// Auth is the session's authentication.
type Auth struct {
	// Method is the security package (MD5, CTP, TWN, SSO, SHA) or "cookie"
	// for a switchboard login; empty when only INF was seen.
	Method string `json:"method"`
	User   string `json:"user"`
	// Result is ok, error, pending, or redirected (a dispatch server
	// answered with XFR NS).
	Result    string `json:"result"`
	ErrorCode *int   `json:"error_code"`
	// Offered lists the packages the server offered with INF.
	Offered []string `json:"offered"`
	// Policy is the SSO policy named by the server.
	Policy string `json:"policy"`
	// ChallengeSeen and ResponseSeen say whether the server's challenge
	// and the client's answer were captured (their values are credentials
	// and are not written).
	ChallengeSeen bool `json:"challenge_seen"`
	ResponseSeen  bool `json:"response_seen"`
}

// Redirect is a referral (XFR).
type Redirect struct {
	TrID int64 `json:"trid"`
	// Type is NS or SB.
	Type string `json:"type"`
	To   string `json:"to"`
	// From is the referring server (NS referrals, MSNP7+), null when absent.
	From *string `json:"from"`
	// Session is the ID of the captured session that followed, null when
	// none was captured.
	Session *int `json:"session"`
}

// Transaction is a client command with a TrID and its replies.
type Transaction struct {
	TrID int64  `json:"trid"`
	Verb string `json:"verb"`
	Time Time   `json:"time"`
	// Status is ok, error or pending (no reply by the end).
	Status    string `json:"status"`
	ErrorCode *int   `json:"error_code"`
	Replies   int    `json:"replies"`
	// ReplyVerbs lists the verbs of the replies, consecutive repeats
	// folded.
	ReplyVerbs []string `json:"reply_verbs"`
	// LatencyUS is the time from the request to its first reply in
	// microseconds, null while pending.
	LatencyUS *int64 `json:"latency_us"`
}

// GroupOp is a contact-group operation.
type GroupOp struct {
	TrID int64 `json:"trid"`
	// Op is ADG, REG, RMG, ADD, REM or ADC.
	Op string `json:"op"`
	// GroupID is the group's id: for ADG the id the server assigned (null
	// until it answers).
	GroupID *string `json:"group_id"`
	// Name is the group's name: the new name for ADG and REG, the current
	// one otherwise.
	Name      *string `json:"name"`
	Contact   *string `json:"contact"`
	Status    string  `json:"status"`
	ErrorCode *int    `json:"error_code"`
}

// Group is one contact group.
type Group struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Error is an error reply.
type Error struct {
	TrID int64 `json:"trid"`
	Code int   `json:"code"`
	// Name is the code's name from the error table, empty when unknown.
	Name string `json:"name"`
	// Verb is the verb of the command answered, empty when unknown.
	Verb string `json:"verb"`
	Time Time   `json:"time"`
}

// Anomaly is a located protocol or capture problem.
type Anomaly struct {
	Kind   string `json:"kind"`
	Time   Time   `json:"time"`
	Dir    string `json:"dir"`
	Offset int64  `json:"offset"`
	Bytes  int    `json:"bytes"`
	// Line quotes at most 80 bytes of the offending input; LineBase64
	// holds them exactly when they are not valid UTF-8.
	Line       string  `json:"line"`
	LineBase64 *string `json:"line_base64,omitempty"`
	Detail     string  `json:"detail"`
}

// Out is an OUT command.
type Out struct {
	Dir    string `json:"dir"`
	Time   Time   `json:"time"`
	Reason string `json:"reason"`
}

// Invitation is an RNG received by a notification session.
type Invitation struct {
	Time      Time   `json:"time"`
	SessionID string `json:"session_id"`
	To        string `json:"to"`
	Inviter   string `json:"inviter"`
	Friendly  string `json:"friendly"`
	CookieRef string `json:"cookie_ref"`
	// Session is the captured switchboard session that answered it.
	Session *int `json:"session"`
}

// Chat summarizes a switchboard session.
type Chat struct {
	SessionID    string        `json:"session_id"`
	Invited      []string      `json:"invited"`
	Participants []Participant `json:"participants"`
	// Messages counts the messages by type.
	Messages []Count `json:"messages"`
}

// Participant is a user present in a switchboard or conversation.
type Participant struct {
	User     string `json:"user"`
	Friendly string `json:"friendly"`
	Joined   *Time  `json:"joined"`
	Left     *Time  `json:"left"`
	// How says how the user left: bye, timeout, out or closed.
	How string `json:"how"`
}

// Conversation is a switchboard chat, joined across the sessions of its
// captured participants (by switchboard address and session id).
type Conversation struct {
	ID int `json:"id"`
	// Server and SessionID identify the switchboard chat.
	Server       string        `json:"server"`
	SessionID    string        `json:"session_id"`
	Sessions     []int         `json:"sessions"`
	Participants []Participant `json:"participants"`
	Messages     []Message     `json:"messages"`
	// UnlistedMessages counts messages beyond the listing limit.
	UnlistedMessages int `json:"unlisted_messages"`
}

// Message is one message of a conversation. A message seen on both the
// sender's and a receiver's connection is listed once, from the sender's.
type Message struct {
	Time Time   `json:"time"`
	From string `json:"from"`
	// Type is text, typing, invite, nudge, wink, emoticon, ink, p2p or
	// other.
	Type        string `json:"type"`
	ContentType string `json:"content_type"`
	Text        string `json:"text"`
	// TextBase64 holds the exact bytes of a text that is not valid UTF-8.
	TextBase64 *string `json:"text_base64,omitempty"`
	Format     string  `json:"format"`
	// Ack is the sender's acknowledgement mode (U, N, A, D), empty when
	// the sender's side was not captured; Acked is true on ACK, false on
	// NAK or an error, null otherwise.
	Ack     string  `json:"ack"`
	Acked   *bool   `json:"acked"`
	Session int     `json:"session"`
	Size    int     `json:"size"`
	Invite  *Invite `json:"invite,omitempty"`
	P2P     *P2P    `json:"p2p,omitempty"`
}

// Invite is a text/x-msmsgsinvite message.
type Invite struct {
	Command     string `json:"command"`
	Cookie      string `json:"cookie"`
	Application string `json:"application"`
	AppGUID     string `json:"app_guid"`
	File        string `json:"file"`
	FileSize    string `json:"file_size"`
	CancelCode  string `json:"cancel_code"`
}

// P2P is the binary header of an application/x-msnmsgrp2p message.
type P2P struct {
	SessionID  uint32 `json:"session_id"`
	Identifier uint32 `json:"identifier"`
	Offset     uint64 `json:"offset"`
	TotalSize  uint64 `json:"total_size"`
	Length     uint32 `json:"length"`
	Flags      uint32 `json:"flags"`
	AppID      uint32 `json:"app_id"`
	// SLP is the start line of an MSNSLP message, with its content type.
	SLP            string `json:"slp"`
	SLPContentType string `json:"slp_content_type"`
}

// Contacts is a session's contact lists.
type Contacts struct {
	// ListVersion is the list version of the SYN reply (MSNP2-12).
	ListVersion string `json:"list_version"`
	// Note says when the lists at login are unknown: the client's cached
	// list was current, so the server sent none.
	Note    string          `json:"note"`
	AtLogin []ContactEntry  `json:"at_login"`
	AtEnd   []ContactEntry  `json:"at_end"`
	Changes []ContactChange `json:"changes"`
	// Unlisted counts changes beyond the listing limit; Dropped counts
	// contacts beyond the contact limit.
	Unlisted int `json:"unlisted_changes"`
	Dropped  int `json:"dropped_contacts"`
}

// ContactEntry is one contact and the lists it is on.
type ContactEntry struct {
	User     string   `json:"user"`
	Friendly string   `json:"friendly"`
	ID       string   `json:"id"`
	Lists    []string `json:"lists"`
	Groups   []string `json:"groups"`
}

// ContactChange is a change to the lists with its transaction.
type ContactChange struct {
	Time    Time   `json:"time"`
	TrID    int64  `json:"trid"`
	Op      string `json:"op"`
	List    string `json:"list"`
	Contact string `json:"contact"`
	Group   string `json:"group"`
	// Server is true for a change the server pushed (ADD 0 RL, ADL 0).
	Server bool `json:"server"`
}

// Presence is a session's presence information.
type Presence struct {
	Own      []PresenceEvent   `json:"own"`
	Contacts []ContactPresence `json:"contacts"`
}

// PresenceEvent is a status change.
type PresenceEvent struct {
	Time     Time   `json:"time"`
	Verb     string `json:"verb"`
	Status   string `json:"status"`
	Friendly string `json:"friendly"`
}

// ContactPresence is a contact's presence timeline.
type ContactPresence struct {
	User           string          `json:"user"`
	PSM            string          `json:"psm"`
	Media          string          `json:"media"`
	Events         []PresenceEvent `json:"events"`
	UnlistedEvents int             `json:"unlisted_events"`
}

// User is one user seen logging in.
type User struct {
	User            string         `json:"user"`
	Sessions        []int          `json:"sessions"`
	Conversations   []int          `json:"conversations"`
	Peers           []string       `json:"peers"`
	ContactsAtLogin []ContactEntry `json:"contacts_at_login"`
	ContactsAtEnd   []ContactEntry `json:"contacts_at_end"`
}
