package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/connection"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/scheme"
)

// Usage is the export's synopsis.
const Usage = `Export a tenant's device configurations as DeviceConfigurationUserOverview and
DeviceConfigurationDeviceOverview manifests.

Usage:
  kubectl intune export (--connection NAME [-n NAMESPACE] | --cluster-connection NAME --target-namespace NS |
                         --tenant-id ID --client-id ID --client-secret-file FILE --connection-ref [KIND/]NAME --target-namespace NS)
                        [--kind all|DeviceConfigurationUserOverview|DeviceConfigurationDeviceOverview]
                        [--policy ObserveOnly|Manage] [--fields f1,f2] [--name-filter TEXT | --name-regex RE] [--output-dir DIR]

It lists every device configuration of the tenant, reads each one's userStatusOverview and
deviceStatusOverview (or the one of --kind) within the tenant's Graph budget (429s pause it and it
goes on), and writes one resource per configuration and kind, both kinds under the same name, to
stdout (a YAML stream) or to --output-dir (one file per configuration), only once every read has
succeeded. Progress goes to stderr.

Flags:
`

// flags are the export's command line.
type flags struct {
	kubeconfig, kubeContext, namespace string
	connection, clusterConnection      string
	tenantID, clientID, secretFile     string
	cloud, apiVersion                  string
	endpoint, authorityHost, caFile    string
	targetNamespace, connectionRef     string
	kind, policy, fields               string
	nameFilter, nameRegex              string
	outputDir                          string
	allowedHosts                       []string
	requests                           int
	window, timeout                    time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := f.flagSet(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// flagSet is the export's command line, bound to f. docs/adopting.md's table of flags is held to
// it (TestAdoptingListsEveryFlag).
func (f *flags) flagSet(stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("kubectl intune export", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage); fs.PrintDefaults() }
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "the kubeconfig to read connections with (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.kubeContext, "context", "", "the kubeconfig context (default: the current one)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "the namespace of --connection (default: the context's)")
	fs.StringVar(&f.connection, "connection", "", "a GraphConnection to sign in with, in --namespace")
	fs.StringVar(&f.clusterConnection, "cluster-connection", "", "a ClusterGraphConnection to sign in with")
	fs.StringVar(&f.tenantID, "tenant-id", "", "sign in to this tenant, without a connection in the cluster")
	fs.StringVar(&f.clientID, "client-id", "", "with --tenant-id: the app's client id")
	fs.StringVar(&f.secretFile, "client-secret-file", "", "with --tenant-id: a file holding the app's client secret")
	fs.StringVar(&f.cloud, "cloud", "", "with --tenant-id: Public (default), USGovernment, USGovernmentDoD or China")
	fs.StringVar(&f.apiVersion, "api-version", "", "with --tenant-id: v1.0 (default) or beta")
	fs.StringVar(&f.endpoint, "endpoint", "", "with --tenant-id: an https Graph endpoint instead of the cloud's (a proxy, the emulator)")
	fs.StringVar(&f.authorityHost, "authority-host", "", "with --tenant-id: an https login host instead of the cloud's")
	fs.StringVar(&f.caFile, "ca-file", "", "with --tenant-id: PEM certificates to trust besides the system's")
	fs.StringVar(&f.targetNamespace, "target-namespace", "", "the namespace of the resources written (default: the connection's namespace with --connection)")
	fs.StringVar(&f.connectionRef, "connection-ref", "", "the connection the resources name, [GraphConnection/|ClusterGraphConnection/]NAME (default: the one signed in with)")
	fs.StringVar(&f.kind, "kind", KindAll, "the kind of resources to write: DeviceConfigurationUserOverview, DeviceConfigurationDeviceOverview or all (one of each per configuration)")
	fs.StringVar(&f.policy, "policy", string(intunev1alpha1.ManagementPolicyObserveOnly), "the resources' managementPolicy: ObserveOnly or Manage")
	fs.StringVar(&f.fields, "fields", "", "comma-separated overview fields to put in spec.overview (default: "+strings.Join(Fields, ",")+
		"); through Graph's beta API also "+strings.Join(BetaFields, ",")+", or "+FieldsAll+" for every field the API version serves")
	fs.StringVar(&f.nameFilter, "name-filter", "", "export only configurations whose display name contains this text (without regard to case)")
	fs.StringVar(&f.nameRegex, "name-regex", "", "export only configurations whose display name matches this regular expression (Go syntax)")
	fs.StringVar(&f.outputDir, "output-dir", "", "write one file per resource into this new directory instead of a YAML stream to stdout")
	fs.StringSliceVar(&f.allowedHosts, "allowed-endpoint-hosts", nil, "hosts a connection's endpoint and authorityHost may name besides the national clouds', as the operator's flag")
	fs.IntVar(&f.requests, "graph-requests-per-window", graph.DefaultLimits().Requests, "the export's Graph budget: requests per --graph-budget-window")
	fs.DurationVar(&f.window, "graph-budget-window", graph.DefaultLimits().Per, "the length of the budget's window")
	fs.DurationVar(&f.timeout, "graph-timeout", graph.DefaultTimeout, "how long one Graph call may take")
	return fs
}

// check refuses a command line the export cannot work with, naming each flag at fault.
func (f *flags) check() error {
	// The budget and the timeout have no "use the default" value: a value the export cannot work
	// with is refused, not replaced in silence.
	var errs []error
	if f.requests < 1 {
		errs = append(errs, fmt.Errorf("--graph-requests-per-window=%d must be at least 1: the export reads a page per request", f.requests))
	}
	if f.window <= 0 {
		errs = append(errs, fmt.Errorf("--graph-budget-window=%s must be positive", f.window))
	}
	if f.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--graph-timeout=%s must be positive", f.timeout))
	}
	return errors.Join(errs...)
}

// Run is `kubectl intune export`: args are its flags. Resources go to stdout (or --output-dir),
// progress to stderr. An error means nothing was written.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	opts := Options{Progress: stderr, Policy: intunev1alpha1.ManagementPolicy(f.policy)}
	if opts.Entities, err = ParseKind(f.kind); err != nil {
		return err
	}
	if opts.Policy != intunev1alpha1.ManagementPolicyObserveOnly && opts.Policy != intunev1alpha1.ManagementPolicyManage {
		return fmt.Errorf("--policy %q is not ObserveOnly or Manage", f.policy)
	}
	if f.fields != "" {
		for _, field := range strings.Split(f.fields, ",") {
			opts.Fields = append(opts.Fields, strings.TrimSpace(field))
		}
		if err := checkFields(opts.Fields, opts.Entities); err != nil {
			return err
		}
	}
	if opts.NameFilter, err = f.filter(); err != nil {
		return err
	}
	if f.outputDir != "" {
		if err := CheckOutputDir(f.outputDir); err != nil {
			return err
		}
	}
	hosts, err := connection.NewHostPolicy(f.allowedHosts)
	if err != nil {
		return fmt.Errorf("--allowed-endpoint-hosts: %w", err)
	}

	cfg, err := f.connect(ctx, &opts, hosts)
	if err != nil {
		return err
	}
	opts.APIVersion = cfg.APIVersion
	if msgs := validation.IsDNS1123Label(opts.Namespace); len(msgs) > 0 {
		return fmt.Errorf("target namespace %q is not a namespace name: %s", opts.Namespace, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1123Subdomain(opts.ConnectionRef.Name); len(msgs) > 0 {
		return fmt.Errorf("connection reference %q is not a connection name: %s", opts.ConnectionRef.Name, strings.Join(msgs, "; "))
	}

	pacers := graph.NewPacers(graph.Limits{Requests: f.requests, Per: f.window}, 0)
	defer pacers.Close()
	// Every request is held to the policy, wherever an answer points: a connection's hosts were
	// checked against it above. The flags of --tenant-id name their hosts themselves, and the
	// client allows those and the national clouds' (a nil policy) and nothing else.
	var policy graph.HostPolicy = hosts
	if f.tenantID != "" {
		policy = nil
	}
	if opts.Client, err = graph.NewClient(cfg, graph.Options{Pacers: pacers, Hosts: policy, Timeout: f.timeout}); err != nil {
		return fmt.Errorf("invalid Graph connection: %w", err)
	}
	if err := opts.Client.CheckCredentials(ctx); err != nil {
		return fmt.Errorf("sign in as app %s to tenant %s: %w", cfg.ClientID, cfg.TenantID, explain(err))
	}
	resources, err := Export(ctx, opts)
	if err != nil {
		return err
	}
	if f.outputDir != "" {
		if err := WriteDir(f.outputDir, resources); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s to %s\n", count(resources), f.outputDir)
		return nil
	}
	if err := WriteStream(stdout, resources); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %s\n", count(resources))
	return nil
}

// count says how many resources of each kind there are, in the table's order of kinds:
// "240 DeviceConfigurationUserOverviews and 240 DeviceConfigurationDeviceOverviews".
func count(resources []intunev1alpha1.Overview) string {
	n := map[string]int{}
	for _, r := range resources {
		n[r.GetObjectKind().GroupVersionKind().Kind]++
	}
	var parts []string
	for _, e := range graph.Entities {
		if n[e.Kind] > 0 {
			parts = append(parts, fmt.Sprintf("%d %ss", n[e.Kind], e.Kind))
		}
	}
	return strings.Join(parts, " and ")
}

// filter is the display name filter of --name-filter or --name-regex.
func (f *flags) filter() (*regexp.Regexp, error) {
	switch {
	case f.nameFilter != "" && f.nameRegex != "":
		return nil, errors.New("--name-filter and --name-regex exclude each other")
	case f.nameFilter != "":
		return regexp.MustCompile("(?i)" + regexp.QuoteMeta(f.nameFilter)), nil
	case f.nameRegex != "":
		re, err := regexp.Compile(f.nameRegex)
		if err != nil {
			return nil, fmt.Errorf("--name-regex: %w", err)
		}
		return re, nil
	}
	return nil, nil
}

// connect returns the Graph settings to sign in with, and sets the resources' namespace and
// connection reference: from a connection in the cluster, or from the command line.
func (f *flags) connect(ctx context.Context, opts *Options, hosts connection.HostPolicy) (graph.Config, error) {
	given := 0
	for _, s := range []string{f.connection, f.clusterConnection, f.tenantID} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return graph.Config{}, errors.New("give one of --connection, --cluster-connection or --tenant-id (with --client-id and --client-secret-file)")
	}
	ref, err := parseRef(f.connectionRef)
	if err != nil {
		return graph.Config{}, err
	}
	opts.Namespace = f.targetNamespace
	if f.tenantID != "" {
		if ref.Name == "" {
			return graph.Config{}, errors.New("--tenant-id: give --connection-ref, the connection the resources will use in the cluster")
		}
		if opts.Namespace == "" {
			opts.Namespace = f.namespace
		}
		if opts.Namespace == "" {
			return graph.Config{}, errors.New("--tenant-id: give --target-namespace, the namespace of the resources")
		}
		opts.ConnectionRef = ref
		return f.commandLineConfig()
	}

	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: f.kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
		&clientcmd.ConfigOverrides{CurrentContext: f.kubeContext, Context: clientcmdapi.Context{Namespace: f.namespace}})
	rest, err := loader.ClientConfig()
	if err != nil {
		return graph.Config{}, fmt.Errorf("kubeconfig: %w", err)
	}
	namespace, _, err := loader.Namespace()
	if err != nil {
		return graph.Config{}, fmt.Errorf("kubeconfig: %w", err)
	}
	c, err := client.New(rest, client.Options{Scheme: scheme.New()})
	if err != nil {
		return graph.Config{}, fmt.Errorf("kubeconfig: %w", err)
	}

	from := intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindNamespaced, Name: f.connection}
	if f.clusterConnection != "" {
		from = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: f.clusterConnection}
		if opts.Namespace == "" {
			return graph.Config{}, errors.New("--cluster-connection: give --target-namespace, the namespace of the resources (one the connection admits)")
		}
	} else if opts.Namespace == "" {
		opts.Namespace = namespace
	}
	if ref.Name == "" {
		ref = from
	}
	opts.ConnectionRef = ref
	if ref.Kind != intunev1alpha1.ConnectionKindCluster && opts.Namespace != namespace {
		// A resource can only name a GraphConnection of its own namespace.
		fmt.Fprintf(opts.Progress, "note: the resources name GraphConnection %q, which must exist in namespace %q\n", ref.Name, opts.Namespace)
	}
	return ConnectionConfig(ctx, c, from, namespace, hosts)
}

// commandLineConfig is the Graph settings of --tenant-id and the flags that go with it.
func (f *flags) commandLineConfig() (graph.Config, error) {
	if f.clientID == "" || f.secretFile == "" {
		return graph.Config{}, errors.New("--tenant-id needs --client-id and --client-secret-file")
	}
	secret, err := os.ReadFile(f.secretFile)
	if err != nil {
		return graph.Config{}, fmt.Errorf("--client-secret-file: %w", err)
	}
	cfg := graph.Config{
		Cloud: graph.Cloud(f.cloud), APIVersion: f.apiVersion, Endpoint: f.endpoint, AuthorityHost: f.authorityHost,
		TenantID: f.tenantID, ClientID: f.clientID,
		Credential: graph.Credential{Kind: graph.CredentialClientSecret, ClientSecret: strings.TrimRight(string(secret), "\r\n")},
	}
	if f.caFile != "" {
		if cfg.CABundle, err = os.ReadFile(f.caFile); err != nil {
			return graph.Config{}, fmt.Errorf("--ca-file: %w", err)
		}
	}
	return cfg, nil
}

// parseRef reads --connection-ref: NAME, GraphConnection/NAME or ClusterGraphConnection/NAME.
func parseRef(s string) (intunev1alpha1.ConnectionReference, error) {
	if s == "" {
		return intunev1alpha1.ConnectionReference{}, nil
	}
	kind, name, found := strings.Cut(s, "/")
	if !found {
		return intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindNamespaced, Name: s}, nil
	}
	switch k := intunev1alpha1.ConnectionKind(kind); k {
	case intunev1alpha1.ConnectionKindNamespaced, intunev1alpha1.ConnectionKindCluster:
		return intunev1alpha1.ConnectionReference{Kind: k, Name: name}, nil
	}
	return intunev1alpha1.ConnectionReference{}, fmt.Errorf("--connection-ref %q: the kind must be GraphConnection or ClusterGraphConnection", s)
}
