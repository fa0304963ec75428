package dissect

import (
	"bytes"
	"encoding/binary"
)

// P2PHeader is the 48-byte binary header of an application/x-msnmsgrp2p
// message (MSNC1 "P2P v1"), little-endian, followed by the data and a
// 4-byte big-endian application id footer.
type P2PHeader struct {
	SessionID       uint32
	Identifier      uint32
	Offset          uint64
	TotalSize       uint64
	Length          uint32
	Flags           uint32
	AckedIdentifier uint32
	AckedUniqueID   uint32
	AckedDataSize   uint64
	// Footer is the application id after the data, 0 when absent.
	Footer uint32
	// SLP is the first line of an MSNSLP message carried in the data
	// ("INVITE MSNMSGR:bob@hotmail.com MSNSLP/1.0", "MSNSLP/1.0 200 OK"),
	// empty when the data is not SLP.
	SLP string
	// SLPContentType is the SLP message's Content-Type.
	SLPContentType string
}

// p2pHeaderLen is the size of the P2P v1 binary header.
const p2pHeaderLen = 48

// maxSLPLine bounds the SLP start line kept.
const maxSLPLine = 200

// ParseP2P decodes the binary header of a P2P message body (the bytes after
// the MIME headers). ok is false when the body is shorter than the header
// or its announced length overruns the body.
func ParseP2P(body []byte) (h P2PHeader, ok bool) {
	if len(body) < p2pHeaderLen {
		return h, false
	}
	le := binary.LittleEndian
	h = P2PHeader{
		SessionID:       le.Uint32(body[0:]),
		Identifier:      le.Uint32(body[4:]),
		Offset:          le.Uint64(body[8:]),
		TotalSize:       le.Uint64(body[16:]),
		Length:          le.Uint32(body[24:]),
		Flags:           le.Uint32(body[28:]),
		AckedIdentifier: le.Uint32(body[32:]),
		AckedUniqueID:   le.Uint32(body[36:]),
		AckedDataSize:   le.Uint64(body[40:]),
	}
	data := body[p2pHeaderLen:]
	if uint64(h.Length) > uint64(len(data)) {
		return h, false
	}
	if rest := data[h.Length:]; len(rest) >= 4 {
		h.Footer = binary.BigEndian.Uint32(rest)
	}
	data = data[:h.Length]
	if h.SessionID == 0 && h.Offset == 0 && isSLPStart(data) {
		line := data
		if i := bytes.Index(line, []byte("\r\n")); i >= 0 {
			line = line[:i]
		}
		if len(line) > maxSLPLine {
			line = line[:maxSLPLine]
		}
		h.SLP = string(line)
		if i := bytes.Index(data, []byte("\r\n")); i >= 0 {
			if hs, _, ok := ParseMIME(data[i+2:]); ok {
				h.SLPContentType = HeaderValue(hs, "Content-Type")
			}
		}
	}
	return h, true
}

func isSLPStart(b []byte) bool {
	for _, p := range []string{"INVITE ", "BYE ", "ACK ", "MSNSLP/"} {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
}
