// Command graphsim runs the Microsoft Graph and Entra ID emulator of pkg/graphtest as a program,
// for the demo and for trying the operator (or curl) against Graph by hand. It serves HTTPS with a
// CA of its own, writes that CA's certificate to a file, and serves until SIGINT or SIGTERM.
//
// Usage:
//
//	go run ./hack/graphsim [flags]
//
// Without --app and --seed it registers a demo app and configuration and prints them. A run
// with explicit ones:
//
//	go run ./hack/graphsim --addr 127.0.0.1:8443 --ca-out /tmp/graphsim-ca.pem \
//	    --app 11111111-1111-1111-1111-111111111111:22222222-2222-2222-2222-222222222222:s3cret \
//	    --seed 11111111-1111-1111-1111-111111111111:6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d=displayName=Wi-Fi%20HQ,successCount=3,failedCount=1,device.successCount=5 \
//	    --fault method=PATCH,status=503,retry-after=1.5,times=2
//
// Then, from another shell, get a token and read the user overview (and change it); the device
// overview is at .../deviceStatusOverview:
//
//	URL=https://127.0.0.1:8443
//	TENANT=11111111-1111-1111-1111-111111111111
//	CLIENT=22222222-2222-2222-2222-222222222222
//	CONFIG=6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d
//	TOKEN=$(curl -sS --cacert /tmp/graphsim-ca.pem "$URL/$TENANT/oauth2/v2.0/token" \
//	    -d grant_type=client_credentials -d client_id=$CLIENT -d client_secret=s3cret \
//	    --data-urlencode "scope=$URL/.default" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
//	curl -sS --cacert /tmp/graphsim-ca.pem -H "Authorization: Bearer $TOKEN" \
//	    "$URL/v1.0/deviceManagement/deviceConfigurations/$CONFIG/userStatusOverview"
//	curl -sS --cacert /tmp/graphsim-ca.pem -H "Authorization: Bearer $TOKEN" -X PATCH \
//	    -H "Content-Type: application/json" -d '{"successCount":12}' \
//	    "$URL/v1.0/deviceManagement/deviceConfigurations/$CONFIG/userStatusOverview"
//
// and list the tenant's configurations, a page at a time (follow @odata.nextLink):
//
//	curl -sS --cacert /tmp/graphsim-ca.pem -H "Authorization: Bearer $TOKEN" \
//	    "$URL/v1.0/deviceManagement/deviceConfigurations?\$select=id,displayName"
//
// A GraphConnection reaches it with endpoint and authority host set to the printed URL and the CA
// file's contents as its CA bundle.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The demo identity used when no --app and no --seed are given.
const (
	demoTenant = "11111111-1111-1111-1111-111111111111"
	demoClient = "22222222-2222-2222-2222-222222222222"
	demoSecret = "graphsim-demo-secret"
	demoConfig = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"

	demoDisplayName = "Demo Wi-Fi profile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "graphsim:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	opts   graphtest.Options
	caOut  string
	apps   []graphtest.App
	seeds  []seed
	faults []graphtest.Fault
	quiet  bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("graphsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.opts.Addr, "addr", "127.0.0.1:8443", "listen address (port 0 picks a free port)")
	fs.StringVar(&c.caOut, "ca-out", filepath.Join(os.TempDir(), "graphsim-ca.pem"), "file to write the CA certificate (PEM) to")
	fs.Func("app", "register an app: tenant:clientID:secret[:read|readwrite|none] (repeatable; default readwrite)", func(s string) error {
		app, err := parseApp(s)
		c.apps = append(c.apps, app)
		return err
	})
	fs.Func("seed", "seed a configuration: tenant:configurationID[=property=value,...], e.g.\n"+
		"=displayName=Wi-Fi%20HQ,successCount=3,failedCount=1,lastUpdateDateTime=2026-11-28T10:00:00Z,device.successCount=5\n"+
		"(the user overview's properties, the device overview's after \"device.\", displayName percent-encoded,\n"+
		"a comma as %2C; repeatable)", func(s string) error {
		sd, err := parseSeed(s)
		c.seeds = append(c.seeds, sd)
		return err
	})
	fs.Func("fault", "inject a fault on Graph requests, or with token on the token endpoint (repeatable,\n"+
		"applied in order): comma-separated token, method=GET|PATCH, tenant=ID, config=ID,\n"+
		"entity=userStatusOverview|deviceStatusOverview, times=N (0: always),\n"+
		"latency=DURATION, hang, status=CODE, code=GraphCode, message=TEXT, retry-after=SECONDS,\n"+
		"drop, malformed, html, no-content, discard-patch;\n"+
		"e.g. method=PATCH,status=503,retry-after=1.5,times=2 or token,html,times=1", func(s string) error {
		f, err := parseFault(s)
		c.faults = append(c.faults, f)
		return err
	})
	fs.Float64Var(&c.opts.TimeScale, "time-scale", 1, "divide the throttling window (20s) by this factor")
	fs.BoolVar(&c.opts.ThrottlingDisabled, "no-throttling", false, "turn throttling off")
	fs.BoolVar(&c.opts.FractionalRetryAfter, "fractional-retry-after", false, `answer 429s with a fractional Retry-After, like "2.128"`)
	fs.DurationVar(&c.opts.TokenLifetime, "token-lifetime", time.Hour, "lifetime of access tokens")
	fs.IntVar(&c.opts.PageSize, "page-size", graphtest.DefaultPageSize, "device configurations per page of the list")
	fs.BoolVar(&c.quiet, "quiet", false, "do not print a line per request")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: graphsim [flags]\n\nRuns the Microsoft Graph emulator (pkg/graphtest) until SIGINT or SIGTERM.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, nil
}

// run starts the emulator as the flags say, prints where it is, and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	demo := len(c.apps) == 0 && len(c.seeds) == 0
	if demo {
		c.apps = []graphtest.App{{TenantID: demoTenant, ClientID: demoClient, ClientSecret: demoSecret}}
		c.seeds = []seed{{tenantID: demoTenant, configurationID: demoConfig, displayName: demoDisplayName,
			overview: graphtest.Overview{SuccessCount: 3, FailedCount: 1}, deviceOverview: graphtest.Overview{SuccessCount: 5, FailedCount: 2}}}
	}
	// A long-running emulator keeps only the newest requests in its log.
	c.opts.MaxRequests = 100_000
	if !c.quiet {
		c.opts.OnRequest = func(r graphtest.Request) {
			fmt.Fprintf(stdout, "%s %-5s %s %d tenant=%s client=%s request-id=%s%s%s\n",
				r.Time.Format(time.TimeOnly), r.Method, r.Path, r.Status, r.TenantID, r.ClientID, r.RequestID, replicaMark(r), throttledMark(r))
		}
	}

	srv, err := graphtest.NewServer(c.opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, a := range c.apps {
		srv.AddApp(a)
	}
	for _, s := range c.seeds {
		srv.Seed(s.tenantID, s.configurationID, s.overview)
		srv.SeedDevice(s.tenantID, s.configurationID, s.deviceOverview)
		if s.displayName != "" {
			srv.SeedConfiguration(s.tenantID, s.configurationID, graphtest.Configuration{DisplayName: s.displayName})
		}
	}
	for _, f := range c.faults {
		srv.Inject(f)
	}
	if err := os.WriteFile(c.caOut, srv.CACertPEM(), 0o644); err != nil {
		return fmt.Errorf("writing the CA certificate: %w", err)
	}

	fmt.Fprintf(stdout, "graphsim serving\nURL: %s\nCA: %s\nscope: %s/.default\n", srv.URL(), c.caOut, srv.URL())
	if demo {
		fmt.Fprintf(stdout, "demo app: tenant %s, client %s, secret %s\ndemo configuration: %s (%s)\n",
			demoTenant, demoClient, demoSecret, demoConfig, demoDisplayName)
	}
	<-ctx.Done()
	return nil
}

// replicaMark names the replica of a sharded operator that sent the request, if it said.
func replicaMark(r graphtest.Request) string {
	if r.Replica == "" {
		return ""
	}
	return " replica=" + r.Replica
}

func throttledMark(r graphtest.Request) string {
	if r.Throttled {
		return " throttled"
	}
	return ""
}
