package dissect

// Secrets returns the indexes in c.Args of the parameters that are
// credentials: authentication responses, tickets and nonces (commands/usr.md,
// authschemes/*.md), and switchboard cookies (XFR SB, RNG, USR and ANS on
// a switchboard). The report layer redacts them on request.
func Secrets(c *Command) []int {
	switch c.Verb {
	case "USR":
		switch {
		case authPackages[arg(c, 0)] && arg(c, 0) == "SSO" && c.Dir == S2C && arg(c, 1) == "S":
			// USR t SSO S policy nonce: the policy is not a secret.
			return rangeFrom(3, len(c.Args))
		case authPackages[arg(c, 0)] && (arg(c, 1) == "S" || arg(c, 1) == "A"):
			// MD5 salt and hash, TWN ticket and token, SSO token and
			// response, SHA circle ticket.
			return rangeFrom(2, len(c.Args))
		case c.Dir == C2S && !authPackages[arg(c, 0)] && len(c.Args) >= 2:
			return []int{1} // USR t handle cookie (switchboard)
		}
	case "ANS":
		if c.Dir == C2S && len(c.Args) >= 2 {
			return []int{1} // ANS t handle cookie sessid
		}
	case "XFR":
		if arg(c, 0) == "SB" && arg(c, 2) == "CKI" && len(c.Args) >= 4 {
			return []int{3}
		}
	case "RNG":
		if arg(c, 2) == "CKI" && len(c.Args) >= 4 {
			return []int{3}
		}
	}
	return nil
}

func rangeFrom(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// SecretHeaders names the MIME headers of MSG payloads whose values are
// credentials: the Passport cookies of the initial profile (MSPAuth,
// MSPProf; versions/msnp3.md) and the cookie of a file-transfer invitation
// (AuthCookie).
var SecretHeaders = []string{"MSPAuth", "MSPProf", "AuthCookie"}
