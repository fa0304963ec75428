package report

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"strings"

	"github.com/msnsniff/msnsniff/dissect"
)

// The report's users, sorted by name, list each user's sessions, the
// conversations they took part in, their peers there and their contact
// lists at the first and the last login: all of the capture's. The JSON
// report builds them from user records, one for each such fact, sorted by
// a recordSorter, so that what it holds in memory does not grow with the
// capture (BuildUsers is the same from all sessions at once). A record is
// the user's name, escaped (appendUserKey), a kind, then:
const (
	// userConv: the conversation's number (8 bytes, big endian), then
	// the other participants (peers), each a uvarint length and the name.
	userConv byte = 'C'
	// userLogin and userEnd: a notification session's ID (8 bytes, big
	// endian) and one of its contact lists: the spool offset and length of
	// its JSON and the number of entries (uvarints). The first login
	// record of a user is of the session with the lowest ID, the last end
	// record of the highest, as BuildUsers takes them.
	userLogin byte = 'L'
	userEnd   byte = 'N'
	// userSession: a session ID, 8 bytes, big endian.
	userSession byte = 'S'
)

// appendUserKey appends name so that the bytes of two keys compare as the
// names do, and no key is a prefix of another: each 0 byte as 0 0xff, then
// 0 1.
func appendUserKey(dst []byte, name string) []byte {
	for {
		i := strings.IndexByte(name, 0)
		if i < 0 {
			break
		}
		dst = append(append(dst, name[:i]...), 0, 0xff)
		name = name[i+1:]
	}
	return append(append(dst, name...), 0, 1)
}

// cutUserKey splits a record into its user's name and the rest.
func cutUserKey(rec []byte) (name []byte, rest []byte, err error) {
	for i := 0; i+1 < len(rec); i++ {
		if rec[i] != 0 {
			continue
		}
		switch rec[i+1] {
		case 1:
			return rec[:i], rec[i+2:], nil
		case 0xff:
			i++
		default:
			return nil, nil, errBadUserRecord
		}
	}
	return nil, nil, errBadUserRecord
}

// unescapeUserKey returns the name of an escaped key, cut by cutUserKey.
func unescapeUserKey(key []byte) string {
	return string(bytes.ReplaceAll(key, []byte{0, 0xff}, []byte{0}))
}

var errBadUserRecord = errors.New("report: internal error: a bad user record")

// addUserSession records that session id is name's.
func (j *jsonReport) addUserSession(name string, id int) {
	r := appendUserKey(j.urec[:0], name)
	r = append(r, userSession)
	r = binary.BigEndian.AppendUint64(r, uint64(id))
	j.addUserRecord(r)
}

// addUserConv records, for each participant of the num-th conversation,
// that they took part with the others.
func (j *jsonReport) addUserConv(num int, names []string) {
	for _, p := range names {
		r := appendUserKey(j.urec[:0], p)
		r = append(r, userConv)
		r = binary.BigEndian.AppendUint64(r, uint64(num))
		for _, q := range names {
			if q != p {
				r = binary.AppendUvarint(r, uint64(len(q)))
				r = append(r, q...)
			}
		}
		j.addUserRecord(r)
	}
}

// addUserContacts records a contact list of a user's notification
// session, kind userLogin or userEnd.
func (j *jsonReport) addUserContacts(name string, kind byte, id int, p piece, n int) {
	r := appendUserKey(j.urec[:0], name)
	r = append(r, kind)
	r = binary.BigEndian.AppendUint64(r, uint64(id))
	r = binary.AppendUvarint(r, uint64(p.off))
	r = binary.AppendUvarint(r, uint64(p.n))
	r = binary.AppendUvarint(r, uint64(n))
	j.addUserRecord(r)
}

func (j *jsonReport) addUserRecord(r []byte) {
	j.urec = r
	if j.err == nil {
		j.err = j.users.add(r)
	}
}

// user records a notification session's contact lists, when it has them
// (BuildUsers); the user's sessions are in the index.
func (j *jsonReport) user(s *dissect.Session) {
	if s.Auth == nil || s.Auth.User == "" || s.Kind != dissect.KindNotification || !s.HasContacts() || s.ListNotSent {
		return
	}
	p, n := j.putContacts(s.ContactsAtLogin())
	j.addUserContacts(s.Auth.User, userLogin, s.ID, p, n)
	p, n = j.putContacts(s.ContactsAtEnd())
	j.addUserContacts(s.Auth.User, userEnd, s.ID, p, n)
}

// spooledUser is a User whose contact lists are in the spool, and their
// lengths (-1 when there are none).
type spooledUser struct {
	User
	login, end   piece
	nLogin, nEnd int
}

// eachUser calls yield with each user, in name order, from the user
// records; u is reused. It needs the index built (prepare), which records
// the users' conversations.
func (j *jsonReport) eachUser(yield func(u *spooledUser) error) error {
	var (
		u       = spooledUser{User: User{Sessions: []int{}, Conversations: []int{}, Peers: []string{}}}
		key     []byte // of u, escaped
		started bool
	)
	flush := func() error {
		if !started || len(u.Sessions) == 0 {
			// Only the users of sessions are listed.
			return nil
		}
		slices.Sort(u.Peers)
		return yield(&u)
	}
	err := j.users.each(func(rec []byte) error {
		k, rest, err := cutUserKey(rec)
		if err != nil || len(rest) == 0 {
			return cmp.Or(err, errBadUserRecord)
		}
		if !started || !bytes.Equal(k, key) {
			if err := flush(); err != nil {
				return err
			}
			key = append(key[:0], k...)
			u = spooledUser{User: User{User: unescapeUserKey(k), Sessions: u.Sessions[:0], Conversations: u.Conversations[:0],
				Peers: u.Peers[:0]}, nLogin: -1, nEnd: -1}
			started = true
		}
		kind, rest := rest[0], rest[1:]
		switch kind {
		case userSession:
			if len(rest) != 8 {
				return errBadUserRecord
			}
			u.Sessions = append(u.Sessions, int(binary.BigEndian.Uint64(rest)))
		case userConv:
			if len(rest) < 8 {
				return errBadUserRecord
			}
			u.Conversations = append(u.Conversations, int(binary.BigEndian.Uint64(rest)))
			for rest = rest[8:]; len(rest) > 0; {
				l, k := binary.Uvarint(rest)
				if k <= 0 || uint64(len(rest)-k) < l {
					return errBadUserRecord
				}
				q := rest[k : k+int(l)]
				rest = rest[k+int(l):]
				if !slices.ContainsFunc(u.Peers, func(p string) bool { return p == string(q) }) {
					u.Peers = append(u.Peers, string(q))
				}
			}
		case userLogin, userEnd:
			if len(rest) < 8 {
				return errBadUserRecord
			}
			var v [3]uint64
			rest = rest[8:]
			for i := range v {
				x, k := binary.Uvarint(rest)
				if k <= 0 {
					return errBadUserRecord
				}
				v[i], rest = x, rest[k:]
			}
			p, n := piece{int64(v[0]), int(v[1])}, int(v[2])
			switch {
			case kind == userEnd:
				// The last is the highest session's.
				u.end, u.nEnd = p, n
			case u.nLogin < 0:
				// The first is the lowest session's.
				u.login, u.nLogin = p, n
			}
		default:
			return errBadUserRecord
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
