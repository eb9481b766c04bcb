package export

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The export refuses a budget or a timeout it cannot work with, naming the flag, instead of
// falling back to a default in silence.
func TestParseFlagsRefusesImpossibleValues(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string // "" for accepted
	}{
		"the defaults":       {},
		"one request":        {args: []string{"--graph-requests-per-window=1"}},
		"no request":         {args: []string{"--graph-requests-per-window=0"}, want: "--graph-requests-per-window=0 must be at least 1"},
		"negative requests":  {args: []string{"--graph-requests-per-window=-3"}, want: "--graph-requests-per-window=-3"},
		"a window of zero":   {args: []string{"--graph-budget-window=0s"}, want: "--graph-budget-window=0s must be positive"},
		"a negative timeout": {args: []string{"--graph-timeout=-1s"}, want: "--graph-timeout=-1s must be positive"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// flagName is a flag or shorthand as docs write it, in a code span: `--name` or `-n`.
var flagName = regexp.MustCompile("`(--?[a-z][a-z-]*)")

// TestAdoptingListsEveryFlag holds docs/adopting.md's table of the export's flags to the flag set:
// every flag is named there as `--name`, and the table names no flag or shorthand the export does
// not have.
func TestAdoptingListsEveryFlag(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "adopting.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(doc), "\n## The export's flags\n")
	if !found {
		t.Fatal(`docs/adopting.md has no section "The export's flags"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	named := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range flagName.FindAllStringSubmatch(line, -1) {
			named[m[1]] = true
		}
	}
	fs := (&flags{}).flagSet(io.Discard)
	defined := map[string]bool{}
	fs.VisitAll(func(fl *pflag.Flag) {
		defined["--"+fl.Name] = true
		if !named["--"+fl.Name] {
			t.Errorf("docs/adopting.md's table of flags does not name --%s (%s)", fl.Name, fl.Usage)
		}
		if fl.Shorthand != "" {
			defined["-"+fl.Shorthand] = true
		}
	})
	if len(defined) < 20 {
		t.Fatalf("the flag set has only %d flags and shorthands: not the export's", len(defined))
	}
	for name := range named {
		if !defined[name] {
			t.Errorf("docs/adopting.md's table of flags names %s, which the export does not define", name)
		}
	}
}
