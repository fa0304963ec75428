package main

import (
	"regexp"
	"strings"
	"testing"
)

// secretPatterns find credentials in transcript text, independently of
// dissect.Secrets: authentication responses, salts, tickets and nonces,
// switchboard cookies, Passport cookies and file-transfer cookies.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^[CS]: USR \d+ (?:MD5|TWN) S (\S+)$`),
	regexp.MustCompile(`(?m)^S: USR \d+ SSO S \S+ (\S+)$`),
	regexp.MustCompile(`(?m)^C: USR \d+ SSO S (\S+) (\S+)`),
	regexp.MustCompile(`(?m)^C: USR \d+ SHA A (\S+)`),
	regexp.MustCompile(`CKI (\S+)`),
	regexp.MustCompile(`(?m)^C: USR \d+ \S+@\S+ (\S+)$`),
	regexp.MustCompile(`(?m)^C: ANS \d+ \S+ (\S+) \d+$`),
	regexp.MustCompile(`(?m)^(?:MSPAuth|MSPProf|AuthCookie): (\S+)$`),
}

// TestRedactedOutputHasNoSecrets: with redaction (the default for table,
// chats and transcript output, and --redact for NDJSON), none of the
// credential values in the captures appears in the output.
func TestRedactedOutputHasNoSecrets(t *testing.T) {
	for _, name := range []string{"msnp7-login", "msnp2-chat", "msnp8-invite", "msnp15-session", "msnp18-session", "msnp21-session", "msnp8-example"} {
		path := testdata + name + ".pcap"
		plain, _, _ := runCLI(t, nil, append([]string{"-T", "transcript", "--no-redact", path}, sbPorts...)...)
		var secrets []string
		for _, re := range secretPatterns {
			for _, m := range re.FindAllStringSubmatch(plain, -1) {
				for _, v := range m[1:] {
					if len(v) >= 6 {
						secrets = append(secrets, v)
					}
				}
			}
		}
		if len(secrets) == 0 {
			t.Fatalf("%s: no credential found in the unredacted transcript", name)
		}
		for _, args := range [][]string{{"-T", "transcript"}, {}, {"--chats"}, {"-T", "ndjson", "--redact"}} {
			out, stderr, code := runCLI(t, nil, append(append(args, path), sbPorts...)...)
			if code != 0 {
				t.Fatalf("%s %v: exit %d: %s", name, args, code, stderr)
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s %v: output contains the credential %q", name, args, s)
				}
			}
		}
	}
}
