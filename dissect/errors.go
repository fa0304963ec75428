package dissect

import "sort"

// ErrorCode describes one MSNP error reply code (the 3-digit "verb" of an
// error line such as "911 7").
type ErrorCode struct {
	Code int
	// Name is the 1999 draft's name where it has one, else the HRESULT
	// name from errors_and_hresults.md; for codes that only the command
	// examples use, a name in the same style coined from the example's
	// heading (Source says so).
	Name string
	// Meaning is the documented description, empty where the source has
	// none ("?").
	Meaning string
	// Source is the file in msnp-spec/ (or the grammar section) the entry
	// comes from.
	Source string
}

// errorCodes is built from msnp-spec/errors_and_hresults.md, plus the codes
// the command pages use only in examples (msnp-grammar.md §8, "example
// only"). Per-version introductions are soft (grammar §8 notes), so every
// known code is named in every version.
var errorCodes = []ErrorCode{
	{Code: 200, Name: "ERR_SYNTAX_ERROR", Meaning: "Syntax error.", Source: "errors_and_hresults.md"},
	{Code: 201, Name: "ERR_INVALID_PARAMETER", Meaning: "Invalid parameter in command.", Source: "errors_and_hresults.md"},
	{Code: 203, Name: "MSGR_E_INVALID_FEDERATED_USER", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 204, Name: "MSGR_E_UNROUTABLE_USER", Meaning: "The network specified for the user is unavailable or does not exist.", Source: "errors_and_hresults.md"},
	{Code: 205, Name: "ERR_INVALID_USER", Meaning: "The user is invalid.", Source: "errors_and_hresults.md"},
	{Code: 206, Name: "ERR_FQDN_MISSING", Meaning: "The domain name of the user handle is missing.", Source: "errors_and_hresults.md"},
	{Code: 207, Name: "ERR_ALREADY_LOGIN", Meaning: "You are already logged in.", Source: "errors_and_hresults.md"},
	{Code: 208, Name: "ERR_INVALID_USERNAME", Meaning: "The username of the user handle is invalid.", Source: "errors_and_hresults.md"},
	{Code: 209, Name: "ERR_INVALID_FRIENDLY_NAME", Meaning: "You cannot use the specified friendly name.", Source: "errors_and_hresults.md"},
	{Code: 210, Name: "ERR_LIST_FULL", Meaning: "The specified list is full.", Source: "errors_and_hresults.md"},
	{Code: 212, Name: "MSGR_E_UNEXPECTED", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 213, Name: "MSGR_E_USER_DOESNT_EXIST", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 215, Name: "ERR_ALREADY_THERE", Meaning: "The specified user is already added to that list.", Source: "errors_and_hresults.md"},
	{Code: 216, Name: "ERR_NOT_ON_LIST", Meaning: "The specified user is not on any of your lists.", Source: "errors_and_hresults.md"},
	{Code: 217, Name: "MSGR_E_MSNP_NOT_ACCEPTING_IMS", Meaning: "The specified user is currently not accepting instant messages.", Source: "errors_and_hresults.md"},
	{Code: 218, Name: "ERR_ALREADY_IN_THE_MODE", Meaning: "You are already in the mode specified.", Source: "errors_and_hresults.md"},
	{Code: 219, Name: "ERR_ALREADY_IN_OPPOSITE_LIST", Meaning: "The user is in a mutually exclusive list and therefore can not be added to the specified one.", Source: "errors_and_hresults.md"},
	{Code: 220, Name: "MSGR_E_NOT_ACCEPTING_PAGES", Meaning: "The specified user is currently not accepting paged messages.", Source: "errors_and_hresults.md"},
	{Code: 232, Name: "MSGR_E_INVALID_MSISDN", Meaning: "The specified mobile number is invalid.", Source: "errors_and_hresults.md"},
	{Code: 233, Name: "MSGR_E_UNKNOWN_MSISDN", Meaning: "The specified mobile number is unknown to the Messenger Service.", Source: "errors_and_hresults.md"},
	{Code: 234, Name: "MSGR_E_MSNP_UNKNOWN_KEITAI_DOMAIN", Meaning: "The specified Japanese mobile address has a domain that is unknown to the Messenger Service.", Source: "errors_and_hresults.md"},
	{Code: 240, Name: "MSGR_E_MSNP_INVALID_XML", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 241, Name: "MSGR_E_MSNP_INVALID_XML_DATA", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 280, Name: "ERR_SWITCHBOARD_FAILED", Meaning: "Internal server error: A Switchboard Server (SB) has failed to negotiate.", Source: "errors_and_hresults.md"},
	{Code: 281, Name: "ERR_NOTIFY_XFR_FAILED", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 300, Name: "ERR_REQUIRED_FIELDS_MISSING", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 302, Name: "ERR_NOT_LOGGED_IN", Meaning: "You need to log in to perform that action.", Source: "errors_and_hresults.md"},
	{Code: 400, Name: "MSGR_E_ABCH_READ_ONLY", Meaning: "Your Address Book is read-only and can not be used.", Source: "errors_and_hresults.md"},
	{Code: 402, Name: "MSGR_E_ABCH_TOO_BUSY", Meaning: "The Address Book service is currently too busy.", Source: "errors_and_hresults.md"},
	{Code: 403, Name: "MSGR_E_ABCH_UNAVAILABLE", Meaning: "The Address Book service is currently unavailable.", Source: "errors_and_hresults.md"},
	{Code: 413, Name: "MSGR_E_SUBSCRIPTION_NEEDED", Meaning: "A subscription is required to use the feature associated with your command.", Source: "errors_and_hresults.md"},
	{Code: 414, Name: "MSGR_E_SUBSCRIPTION_DISABLED", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 416, Name: "MSGR_E_MARKET_DISABLED", Meaning: "The feature associated with your command is disabled in your region.", Source: "errors_and_hresults.md"},
	{Code: 417, Name: "MSGR_E_DISABLED_EVERYWHERE", Meaning: "The feature associated with your command is disabled in all regions.", Source: "errors_and_hresults.md"},
	{Code: 418, Name: "MSGR_E_TRY_AGAIN_LATER", Meaning: "The operation failed and you should try again later.", Source: "errors_and_hresults.md"},
	{Code: 419, Name: "MSGR_E_NO_MARKET_SPECIFIED", Meaning: "You have not specified a region, which is required for this feature.", Source: "errors_and_hresults.md"},
	{Code: 420, Name: "MSGR_E_INVITE_REQUIRED", Meaning: "You need an invitation to use this version of the Official Client.", Source: "errors_and_hresults.md"},
	{Code: 500, Name: "ERR_INTERNAL_SERVER", Meaning: "Unspecified internal server error.", Source: "errors_and_hresults.md"},
	{Code: 501, Name: "ERR_DB_SERVER", Meaning: "Internal server error: Unspecified database failure.", Source: "errors_and_hresults.md"},
	{Code: 503, Name: "MSGR_E_FAIL", Meaning: "Unspecified failure.", Source: "errors_and_hresults.md"},
	{Code: 504, Name: "MSGR_E_UPS_UNAVAILABLE", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 505, Name: "MSGR_E_SCS_UNAVAILABLE", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 508, Name: "MSGR_E_MSNP_FEDERATED_SERVER_ERROR", Meaning: "Unspecified federated service failure.", Source: "errors_and_hresults.md"},
	{Code: 509, Name: "MSGR_E_MSNP_UUM_ERROR", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 510, Name: "ERR_FILE_OPERATION", Meaning: "Internal server error: A file operation has failed.", Source: "errors_and_hresults.md"},
	{Code: 511, Name: "MSGR_E_PPLATFORM_SERVER_511", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 520, Name: "ERR_MEMORY_ALLOC", Meaning: "Internal server error: Failed to allocate memory for this operation.", Source: "errors_and_hresults.md"},
	{Code: 540, Name: "MSGR_E_LOCKANDKEY_FAILED", Meaning: "The challenge response was incorrect against what the server expected.", Source: "errors_and_hresults.md"},
	{Code: 600, Name: "ERR_SERVER_BUSY", Meaning: "The server is too busy to handle this request.", Source: "errors_and_hresults.md"},
	{Code: 601, Name: "ERR_SERVER_UNAVAILABLE", Meaning: "The server is unavailable at this time.", Source: "errors_and_hresults.md"},
	{Code: 602, Name: "ERR_PEER_NS_DOWN", Meaning: "Internal server error: The peered Notification Server (NS) is offline.", Source: "errors_and_hresults.md"},
	{Code: 603, Name: "ERR_DB_CONNECT", Meaning: "Internal server error: Failed to connect to database.", Source: "errors_and_hresults.md"},
	{Code: 604, Name: "ERR_SERVER_GOING_DOWN", Meaning: "Internal server error: The server is stopping.", Source: "errors_and_hresults.md"},
	{Code: 606, Name: "MSGR_E_PAGING_UNAVAILABLE", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 707, Name: "ERR_CREATE_CONNECTION", Meaning: "Internal server error: Failed to create a connection.", Source: "errors_and_hresults.md"},
	{Code: 710, Name: "MSGR_E_PAGING_UNAVAILABLE", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 711, Name: "ERR_BLOCKING_WRITE", Meaning: "Internal server error: A operation has failed because a blocking write operation is occuring.", Source: "errors_and_hresults.md"},
	{Code: 712, Name: "ERR_SESSION_OVERLOAD", Meaning: "Internal server error: The server can no longer handle the amount of sessions.", Source: "errors_and_hresults.md"},
	{Code: 713, Name: "ERR_USER_TOO_ACTIVE", Meaning: "You are being too active. You have been rate limited.", Source: "errors_and_hresults.md"},
	{Code: 714, Name: "ERR_TOO_MANY_SESSIONS", Meaning: "Internal server error: You have too many sessions.", Source: "errors_and_hresults.md"},
	{Code: 715, Name: "ERR_NOT_EXPECTED", Meaning: "Command not expected at that time.", Source: "errors_and_hresults.md"},
	{Code: 717, Name: "ERR_BAD_FRIEND_FILE", Meaning: "Internal server error: Your contact list is corrupt.", Source: "errors_and_hresults.md"},
	{Code: 718, Name: "MSGR_E_RESTRICTED_USER", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 719, Name: "MSGR_E_FEDERATED_SESSION", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 726, Name: "MSGR_E_USER_FEDERATED", Meaning: "The specified user is on a federated network and does not support the operation.", Source: "errors_and_hresults.md"},
	{Code: 729, Name: "MSGR_E_SERVER_TOO_BUSY", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 800, Name: "MSGR_E_RATE_LIMIT_EXCEEDED", Meaning: "You are being rate limited.", Source: "errors_and_hresults.md"},
	{Code: 910, Name: "MSGR_E_SERVER_TOO_BUSY", Meaning: "The server is too busy to authenticate your user.", Source: "errors_and_hresults.md"},
	{Code: 911, Name: "ERR_AUTHENTICATION_FAILED", Meaning: "Generic authentication failure.", Source: "errors_and_hresults.md"},
	{Code: 913, Name: "ERR_NOT_ALLOWED_WHEN_OFFLINE", Meaning: "You may not perform that action while appearing offline (hidden) or in semi-offline mode.", Source: "errors_and_hresults.md"},
	{Code: 917, Name: "MSGR_E_INVALID_DOMAIN", Meaning: "The domain specified at authentication is invalid.", Source: "errors_and_hresults.md"},
	{Code: 918, Name: "MSGR_E_INTERNAL_SERVER_ERROR", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 919, Name: "MSGR_E_INTERNAL_SERVER_ERROR", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 920, Name: "ERR_NOT_ACCEPTING_NEW_USERS", Meaning: "The server is too full and is no longer accepting new authentication requests.", Source: "errors_and_hresults.md"},
	{Code: 921, Name: "MSGR_E_SERVER_TOO_BUSY", Meaning: "The server is too busy to authenticate your user.", Source: "errors_and_hresults.md"},
	{Code: 922, Name: "MSGR_E_SERVER_TOO_BUSY", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 923, Name: "MSGR_E_CHILD_WITHOUT_CONSENT", Meaning: "Child account does not have authorization to use the Messenger Service.", Source: "errors_and_hresults.md"},
	{Code: 924, Name: "MSGR_E_EMAIL_PASSPORT_NOT_VALIDATED", Meaning: "You need to verify your account before using the Messenger Service.", Source: "errors_and_hresults.md"},
	{Code: 926, Name: "MSGR_E_MANAGED_USER_INVALID_CVR", Meaning: "The account's permissions could not be verified.", Source: "errors_and_hresults.md"},
	{Code: 927, Name: "MSGR_E_RESTRICTED_USER", Meaning: "The parent or guardian of this account has blocked access of the Messenger Service using this account.", Source: "errors_and_hresults.md"},
	{Code: 928, Name: "MSGR_E_INVALID_PASSWORD", Meaning: "The password provided is invalid.", Source: "errors_and_hresults.md"},
	{Code: 929, Name: "MSGR_E_LOCKANDKEY_FAILED_FOR_MCAA", Meaning: "The challenge response was incorrect for this MCAA (TODO: What is this?) request.", Source: "errors_and_hresults.md"},
	{Code: 930, Name: "MSGR_E_FEDERATED_DOMAIN", Meaning: "This account belongs to a enterprise domain and can not be used on the Messenger Service.", Source: "errors_and_hresults.md"},
	{Code: 934, Name: "MSGR_E_FSS_USER_NO_ACCESS", Meaning: "", Source: "errors_and_hresults.md"},
	{Code: 223, Name: "ERR_TOO_MANY_GROUPS", Meaning: "Too many groups (more than 30).", Source: "commands/adg.md (example only)"},
	{Code: 224, Name: "ERR_INVALID_GROUP", Meaning: "The group does not exist.", Source: "commands/rmg.md, commands/reg.md (examples only)"},
	{Code: 225, Name: "ERR_USER_NOT_IN_GROUP", Meaning: "The user is not in that group.", Source: "commands/rem.md (example only)"},
	{Code: 229, Name: "ERR_GROUP_NAME_TOO_LONG", Meaning: "The group name is too long.", Source: "commands/adg.md (example only)"},
	{Code: 230, Name: "ERR_CANNOT_REMOVE_GROUP_ZERO", Meaning: "Group 0 (Other Contacts) cannot be removed.", Source: "commands/rmg.md (example only)"},
	{Code: 282, Name: "ERR_MALFORMED_DATA_MESSAGE", Meaning: "A MSG with acknowledgement type D was malformed.", Source: "commands/msg.md (example only)"},
	{Code: 301, Name: "ERR_TOO_MANY_RESULTS", Meaning: "FND matched too many results.", Source: "commands/fnd.md (example only)"},
	{Code: 502, Name: "ERR_COMMAND_DISABLED", Meaning: "The command is disabled.", Source: "commands/fnd.md (example only)"},
	{Code: 731, Name: "ERR_BAD_CVR_PARAMETERS", Meaning: "Bad CVR/CVQ parameters; the server disconnects.", Source: "commands/cvr.md, commands/cvq.md (examples only)"},
	{Code: 931, Name: "ERR_WRONG_SERVER", Meaning: "Wrong server for this account; the server disconnects.", Source: "commands/usr.md (example only)"},
}

var errorIndex = func() map[int]int {
	sort.Slice(errorCodes, func(i, j int) bool { return errorCodes[i].Code < errorCodes[j].Code })
	m := make(map[int]int, len(errorCodes))
	for i, e := range errorCodes {
		m[e.Code] = i
	}
	return m
}()

// LookupError returns the description of an MSNP error code and whether
// the code is known.
func LookupError(code int) (ErrorCode, bool) {
	i, ok := errorIndex[code]
	if !ok {
		return ErrorCode{Code: code}, false
	}
	return errorCodes[i], true
}

// ErrorCodes returns every known error code in ascending order. The slice
// is a copy.
func ErrorCodes() []ErrorCode { return append([]ErrorCode(nil), errorCodes...) }
