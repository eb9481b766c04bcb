package testutil

import "strings"

// Lines indents multi-line output (a log's tail, a command's output) for a failure message.
func Lines(s string) string {
	return "\n\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}
