package dissect

// Dir is the direction of a command or of stream bytes within a TCP
// connection: from the client to the server, or back.
type Dir uint8

const (
	// C2S is client to server.
	C2S Dir = iota
	// S2C is server to client.
	S2C
)

// String returns "c2s" or "s2c", the spelling used in the JSON output.
func (d Dir) String() string {
	if d == S2C {
		return "s2c"
	}
	return "c2s"
}

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return 1 - d }

// Prefix returns the transcript prefix of the direction: "C" or "S".
func (d Dir) Prefix() string {
	if d == S2C {
		return "S"
	}
	return "C"
}
