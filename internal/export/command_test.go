package export

import (
	"io"
	"strings"
	"testing"
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
