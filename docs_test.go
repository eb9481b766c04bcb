package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// docPages returns the README and every page under docs/: the files whose links must resolve.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, pages...)
}

var (
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// proseLines returns a Markdown text's lines outside fenced code blocks, with their numbers.
func proseLines(text string) map[int]string {
	lines := map[int]string{}
	inFence := false
	for i, l := range strings.Split(text, "\n") {
		if fence.MatchString(l) {
			inFence = !inFence
			continue
		}
		if !inFence {
			lines[i+1] = l
		}
	}
	return lines
}

// anchor is the fragment GitHub gives a heading: lower case, spaces as '-', and every other
// character that is not a letter, a digit, '-' or '_' dropped.
func anchor(headingText string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(headingText) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the fragments of a Markdown file's headings; a heading that repeats an earlier
// one's fragment gets "-1", "-2", ... as on GitHub.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, seen := map[string]bool{}, map[string]int{}
	lines := proseLines(string(b))
	for n := 1; n <= len(strings.Split(string(b), "\n")); n++ {
		m := heading.FindStringSubmatch(lines[n])
		if m == nil {
			continue
		}
		a := anchor(m[1])
		if k := seen[a]; k > 0 {
			out[fmt.Sprintf("%s-%d", a, k)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// relativeLinks returns the targets of a Markdown text's inline links outside code, by line
// number, without those to other sites (://) and mail addresses.
func relativeLinks(text string) map[int][]string {
	out := map[int][]string{}
	for n, line := range proseLines(text) {
		for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			if target := m[1]; !strings.Contains(target, "://") && !strings.HasPrefix(target, "mailto:") {
				out[n] = append(out[n], target)
			}
		}
	}
	return out
}

// TestDocsLinksResolve follows every relative link of the README and the docs: the file it names
// exists, and a link to a heading (#fragment) of a Markdown file names one that file has.
func TestDocsLinksResolve(t *testing.T) {
	cache := map[string]map[string]bool{}
	links := 0
	for _, page := range docPages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for n, targets := range relativeLinks(string(b)) {
			for _, target := range targets {
				links++
				path, frag, _ := strings.Cut(target, "#")
				file := page
				if path != "" {
					file = filepath.Join(filepath.Dir(page), path)
					if _, err := os.Stat(file); err != nil {
						t.Errorf("%s:%d: %s: no such file %s", page, n, target, file)
						continue
					}
				}
				if frag == "" || !strings.HasSuffix(file, ".md") {
					continue
				}
				if cache[file] == nil {
					cache[file] = anchors(t, file)
				}
				if !cache[file][frag] {
					t.Errorf("%s:%d: %s: %s has no heading #%s", page, n, target, file, frag)
				}
			}
		}
	}
	if links == 0 {
		t.Fatal("no relative link found: the link pattern is broken")
	}
}

// TestEveryDocsPageIsReachable follows the relative links from the README: every page under docs/
// can be reached from it, so that no page is written and then lost to its readers.
func TestEveryDocsPageIsReachable(t *testing.T) {
	reached := map[string]bool{"README.md": true}
	next := []string{"README.md"}
	for len(next) > 0 {
		page := next[0]
		next = next[1:]
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, targets := range relativeLinks(string(b)) {
			for _, target := range targets {
				path, _, _ := strings.Cut(target, "#")
				if !strings.HasSuffix(path, ".md") {
					continue
				}
				file := filepath.Join(filepath.Dir(page), path)
				if !reached[file] {
					reached[file] = true
					next = append(next, file)
				}
			}
		}
	}
	for _, page := range docPages(t) {
		if !reached[page] {
			t.Errorf("%s cannot be reached by links from README.md", page)
		}
	}
}

// flagsPage holds the table of the operator's flags.
const flagsPage = "docs/flags.md"

// operatorFlags returns every flag bin/manager takes, by name: parseFlags' own and zap's, which
// parseFlags binds, and those that packages register on flag.CommandLine as they start
// (controller-runtime's --kubeconfig), without the test binary's own (test.*).
func operatorFlags(t *testing.T) map[string]*flag.Flag {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, _, err := parseFlags(fs, nil); err != nil {
		t.Fatal(err)
	}
	out := map[string]*flag.Flag{}
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = f })
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "test.") {
			out[f.Name] = f
		}
	})
	return out
}

// flagRow is a row of the flags table: the flag's name and its default cell.
type flagRow struct {
	line     int
	name     string
	defaults string
}

// flagRows returns the rows of the flags page's table, one flag each.
func flagRows(t *testing.T) []flagRow {
	t.Helper()
	b, err := os.ReadFile(flagsPage)
	if err != nil {
		t.Fatal(err)
	}
	var rows []flagRow
	for i, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "| `--") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), " | ")
		if len(cells) != 3 {
			t.Errorf("%s:%d: a row has three cells (flag, default, what it does): %s", flagsPage, i+1, l)
			continue
		}
		name := strings.TrimSpace(cells[0])
		if !regexp.MustCompile("^`--[a-z0-9-]+`$").MatchString(name) {
			t.Errorf("%s:%d: the first cell names one flag: %s", flagsPage, i+1, name)
			continue
		}
		rows = append(rows, flagRow{line: i + 1, name: strings.Trim(name, "`-"), defaults: strings.TrimSpace(cells[1])})
	}
	return rows
}

// TestDocsFlagTable holds the flags page's table to the flags the operator defines: every one of
// them has a row, no row names another, and a row's default is the flag's. A default the flag
// package knows (DefValue) is the first code span of the cell, and is read as the flag reads a
// value (so `10m` is 10m0s); a flag whose default is empty (a string that means "all", "none" or
// "the pod's namespace", and zap's, whose defaults depend on --zap-devel) is described in words,
// which the test only requires to be there.
func TestDocsFlagTable(t *testing.T) {
	defined := operatorFlags(t)
	rows := flagRows(t)
	documented := map[string]bool{}
	for _, r := range rows {
		if documented[r.name] {
			t.Errorf("%s:%d: --%s has two rows", flagsPage, r.line, r.name)
		}
		documented[r.name] = true
		f, ok := defined[r.name]
		if !ok {
			t.Errorf("%s:%d: --%s is not a flag of the operator", flagsPage, r.line, r.name)
			continue
		}
		if r.defaults == "" {
			t.Errorf("%s:%d: --%s: the default cell is empty", flagsPage, r.line, r.name)
			continue
		}
		if f.DefValue == "" {
			continue
		}
		span := codeSpan.FindString(r.defaults)
		if span == "" {
			t.Errorf("%s:%d: --%s: the default %q is not in `code`; the flag's is %q", flagsPage, r.line, r.name, r.defaults, f.DefValue)
			continue
		}
		if got := readAsFlag(t, r.name, strings.Trim(span, "`")); got != f.DefValue {
			t.Errorf("%s:%d: --%s: the table's default %s is %q to the flag; the flag's default is %q", flagsPage, r.line, r.name, span, got, f.DefValue)
		}
	}
	for name := range defined {
		if !documented[name] {
			t.Errorf("--%s is a flag of the operator without a row in %s", name, flagsPage)
		}
	}
}

// readAsFlag returns what a value becomes when the operator's flag of that name is set to it
// (its String form), or the error.
func readAsFlag(t *testing.T, name, value string) string {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, _, err := parseFlags(fs, nil); err != nil {
		t.Fatal(err)
	}
	if fs.Lookup(name) == nil {
		return value // a flag of flag.CommandLine: taken as it is written
	}
	if err := fs.Set(name, value); err != nil {
		return "error: " + err.Error()
	}
	return fs.Lookup(name).Value.String()
}
