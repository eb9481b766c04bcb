package graph

import (
	"regexp"
	"strings"
)

// Graph, Intune and Entra ID put what identifies one answer into their messages: Intune's
// "Activity ID" (the request-id) and "Operation ID", request-id and client-request-id, trace and
// correlation ids, timestamps. A condition that quoted them would change on every retry, so
// Classify's message and description drop them; the *Error (and so the logs) keeps them, and the
// request-id of the last call is in status for Microsoft support.
var (
	guid        = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	guidPattern = `\{` + guid + `\}|\(` + guid + `\)|` + guid
	// A date with a time of day; a bare date may be a value the user wrote.
	timestampPattern = `\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?`

	// labelledID is a per-request id with its label, as in "Activity ID: <guid>",
	// "request-id: <guid>", `"client-request-id":"<guid>"` or "Operation ID (for customer
	// support): <guid>".
	labelledID = regexp.MustCompile(`(?i)"?\b(?:activity|operation|correlation|trace|tracking|session|x-ms-request|client[- ]request|request)[ _-]?id\b"?` +
		`(?:\s*\(for customer support\))?\s*[:=]?\s*"?(?:` + guidPattern + `|[0-9a-f]{16,})"?`)
	// labelledTime is a timestamp with its label, as in "Timestamp: 2026-11-28 10:00:00Z" or
	// `"date":"2026-11-28T10:00:00"`.
	labelledTime = regexp.MustCompile(`(?i)"?\b(?:timestamp|date|time)"?\s*[:=]\s*"?` + timestampPattern + `"?`)
	timestamp    = regexp.MustCompile(timestampPattern)

	emptyBrackets = regexp.MustCompile(`\(\s*[,;]?\s*\)|\[\s*[,;]?\s*\]|\{\s*[,;]?\s*\}`)
	// spaceBeforeComma and separatorRun are what is left around a removed part: "denied ;",
	// " - - ", ", -".
	spaceBeforeComma = regexp.MustCompile(`\s+([,;])`)
	separatorRun     = regexp.MustCompile(`(?:[,;]|\s[-–|])+([,;]|\s[-–|])(\s|$)`)
)

// withoutRequestIDs returns msg without the per-request ids and timestamps in it, and without
// the separators they leave behind. withoutRequestIDs(withoutRequestIDs(s)) == withoutRequestIDs(s).
func withoutRequestIDs(msg string) string {
	s := labelledID.ReplaceAllString(msg, "")
	s = labelledTime.ReplaceAllString(s, "")
	s = timestamp.ReplaceAllString(s, "")
	if s == msg {
		return msg
	}
	for {
		before := s
		s = strings.Join(strings.Fields(s), " ")
		s = emptyBrackets.ReplaceAllString(s, "")
		s = spaceBeforeComma.ReplaceAllString(s, "$1")
		s = separatorRun.ReplaceAllString(s, "$1$2") // the last of the run: "found. - ;" keeps ";"
		s = trimSeparators(s)
		if s == before {
			return s
		}
	}
}

// trimSeparators drops separators (and the spaces around them) left dangling at either end of s
// or just inside a closing bracket, as in "was found. -" or "(Forbidden: denied -)".
func trimSeparators(s string) string {
	const seps = " -–|,;:"
	s = strings.Trim(s, seps)
	for _, closing := range []string{")", "]", "}"} {
		parts := strings.Split(s, closing)
		for i := range len(parts) - 1 {
			parts[i] = strings.TrimRight(parts[i], seps)
		}
		s = strings.Join(parts, closing)
	}
	return s
}
