// Package report owns msnsniff's output: the session report model (the
// JSON shape, defined once in model.go) and its renderers — tables, one
// JSON document, NDJSON (one object per command, anomaly and session, and
// a summary), and transcripts in the spec's "C:"/"S:" form.
//
// Data flows one way into it: the dissector's sessions and commands come
// in through Collector (a dissect.Handler), capture-level counts through
// Capture, filled in by the caller. Renderers write to an io.Writer and
// never print elsewhere. Text renderers (table, transcript) escape every
// string that came off the wire (control bytes, escape sequences, invalid
// UTF-8) unless Options.Raw is set; JSON keeps strings exact, and puts
// bytes that are not valid UTF-8 in base64 fields.
//
// Nothing here is safe for concurrent use.
package report
