package dissect

import (
	"testing"
	"unsafe"
)

// TestCommandSize keeps a Command, allocated for every line, within the
// allocator's 240-byte size class.
func TestCommandSize(t *testing.T) {
	if n := unsafe.Sizeof(Command{}); n > 240 {
		t.Errorf("Command is %d bytes, want at most 240", n)
	}
}
