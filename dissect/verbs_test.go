package dissect

import "testing"

func TestLookupVerb(t *testing.T) {
	if len(verbTable) > 255 {
		t.Fatalf("verbTable has %d rows; verbIndex holds at most 255", len(verbTable))
	}
	for i := range verbTable {
		v := &verbTable[i]
		if got := LookupVerb(v.Verb); got != v {
			t.Errorf("LookupVerb(%q) = %v, want row %d", v.Verb, got, i)
		}
		if got := lookupVerb([]byte(v.Verb)); got != v {
			t.Errorf("lookupVerb(%q) = %v, want row %d", v.Verb, got, i)
		}
	}
	tests := []struct {
		name string
		verb string
	}{
		{name: "empty", verb: ""},
		{name: "short", verb: "MS"},
		{name: "long", verb: "MSGX"},
		{name: "lower case", verb: "msg"},
		{name: "error code", verb: "911"},
		{name: "unknown", verb: "ZZZ"},
		{name: "after Z", verb: "MS["},
		{name: "before A", verb: "@SG"},
		{name: "high bytes", verb: "\xffSG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LookupVerb(tt.verb); got != nil {
				t.Errorf("LookupVerb(%q) = %v, want nil", tt.verb, got.Verb)
			}
			if got := lookupVerb([]byte(tt.verb)); got != nil {
				t.Errorf("lookupVerb(%q) = %v, want nil", tt.verb, got.Verb)
			}
		})
	}
}
