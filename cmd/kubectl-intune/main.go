// Command kubectl-intune is overview-operator's kubectl plugin (kubectl intune ...): put it on
// PATH. Its one subcommand, export, writes a DeviceConfigurationUserOverview for every device
// configuration of a live tenant; see internal/export.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/overview-operator/overview-operator/internal/export"
)

const usage = `kubectl intune: overview-operator's kubectl plugin.

Usage:
  kubectl intune export [flags]   write a DeviceConfigurationUserOverview per device configuration of a tenant
  kubectl intune export --help    the export's flags
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "export":
		err := export.Run(ctx, args[1:], stdout, stderr)
		switch {
		case errors.Is(err, pflag.ErrHelp):
			return 0
		case err != nil:
			fmt.Fprintf(stderr, "error: %v\n", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "error: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
