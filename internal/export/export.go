package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// Labels and annotations the export puts on every resource.
const (
	// LabelConfigurationID is the device configuration id, to find a configuration's resource with
	// a label selector (kubectl get dcuo -l ...).
	LabelConfigurationID = "intune.overview-operator.io/device-configuration-id"
	// AnnotationDisplayName is the configuration's display name when it was exported.
	AnnotationDisplayName = "intune.overview-operator.io/display-name"
)

// Fields are the overview's fields a spec can hold, in the order of the CRD.
var Fields = []string{"pendingCount", "notApplicableCount", "successCount", "errorCount", "failedCount", "configurationVersion", "lastUpdateDateTime"}

// Options say what to export.
type Options struct {
	// Client is the tenant's Graph client.
	Client graph.Client
	// Namespace is the namespace of the resources written.
	Namespace string
	// ConnectionRef is the connection the resources name.
	ConnectionRef intunev1alpha1.ConnectionReference
	// Policy is the resources' managementPolicy.
	Policy intunev1alpha1.ManagementPolicy
	// Fields are the overview fields put in spec.overview (names from Fields); empty: all.
	Fields []string
	// NameFilter, if set, keeps only the configurations whose display name it matches.
	NameFilter *regexp.Regexp
	// Progress receives a line now and then while the export reads Graph; nil discards.
	Progress io.Writer
}

// ErrNoConfigurations is the cause of Export's error when there is nothing to export.
var ErrNoConfigurations = errors.New("nothing to export")

// Export lists the tenant's device configurations, reads the overview of each (those the filter
// keeps), every read a ReadJob in the tenant's budget, and returns one resource per configuration,
// sorted by name. A configuration deleted between the list and its read is left out, with a line
// on Progress. Any other failure fails the whole export: a partial export would look complete.
func Export(ctx context.Context, opts Options) ([]intunev1alpha1.DeviceConfigurationUserOverview, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if err := checkFields(opts.Fields); err != nil {
		return nil, err
	}
	configs, err := opts.Client.ListConfigurations(ctx, func(read int) {
		fmt.Fprintf(progress, "listed %d device configurations\n", read)
	})
	if err != nil {
		return nil, fmt.Errorf("list the tenant's device configurations: %w", explain(err))
	}
	if len(configs) == 0 {
		return nil, fmt.Errorf("%w: the tenant has no device configurations", ErrNoConfigurations)
	}
	names := Names(configs)
	kept := configs
	if opts.NameFilter != nil {
		kept = slices.DeleteFunc(slices.Clone(configs), func(c graph.Configuration) bool { return !opts.NameFilter.MatchString(c.DisplayName) })
		if len(kept) == 0 {
			return nil, fmt.Errorf("%w: none of the tenant's %d device configurations has a display name that matches %q", ErrNoConfigurations, len(configs), opts.NameFilter)
		}
		fmt.Fprintf(progress, "%d of %d device configurations match %q\n", len(kept), len(configs), opts.NameFilter)
	}

	overviews, err := readOverviews(ctx, opts.Client, kept, progress)
	if err != nil {
		return nil, err
	}
	var out []intunev1alpha1.DeviceConfigurationUserOverview
	for _, c := range kept {
		o, ok := overviews[c.ID]
		if !ok {
			continue
		}
		out = append(out, resource(opts, names[c.ID], c, o))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: every device configuration listed was deleted before its overview was read", ErrNoConfigurations)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// checkFields refuses names that are not overview fields.
func checkFields(fields []string) error {
	for _, f := range fields {
		if !slices.Contains(Fields, f) {
			return fmt.Errorf("--fields: %q is not an overview field; they are %s", f, strings.Join(Fields, ", "))
		}
	}
	return nil
}

// readOverviews reads the overview of every configuration, each a ReadJob in the tenant's line
// (which the pacer runs again while Graph throttles it), and returns them by id. The first
// failure withdraws the reads still waiting and is returned; a configuration Graph no longer has
// is left out.
func readOverviews(ctx context.Context, c graph.Client, configs []graph.Configuration, progress io.Writer) (map[string]graph.Overview, error) {
	type result struct {
		id       string
		overview graph.Overview
		err      error
	}
	results := make(chan result, len(configs)) // a job never blocks on a reader that gave up
	key := func(id string) string { return "export/" + id }
	for _, cfg := range configs {
		var r result
		c.Submit(key(cfg.ID), graph.ReadJob, graph.Job{
			Run: func(jctx context.Context, calls graph.Calls) error {
				resp, err := calls.Get(jctx, graph.UserOverview, cfg.ID)
				r = result{id: cfg.ID, overview: resp.Overview}
				return err
			},
			Done: func(err error) {
				r.err = err
				results <- r
			},
		})
	}
	withdraw := func() {
		for _, cfg := range configs {
			c.Withdraw(key(cfg.ID))
		}
	}
	out := make(map[string]graph.Overview, len(configs))
	every := max(len(configs)/10, 25)
	for done := 1; done <= len(configs); done++ {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			withdraw()
			return nil, ctx.Err()
		}
		switch {
		case r.err != nil && graph.Classify(r.err).Class == graph.ClassNotFound:
			fmt.Fprintf(progress, "device configuration %s was deleted since it was listed: left out\n", r.id)
		case r.err != nil:
			withdraw()
			return nil, fmt.Errorf("read the overview of device configuration %s: %w", r.id, explain(r.err))
		default:
			out[r.id] = r.overview
		}
		if done%every == 0 || done == len(configs) {
			fmt.Fprintf(progress, "read %d of %d overviews\n", done, len(configs))
		}
	}
	return out, nil
}

// resource is the DeviceConfigurationUserOverview of one configuration and its overview.
func resource(opts Options, name string, c graph.Configuration, o graph.Overview) intunev1alpha1.DeviceConfigurationUserOverview {
	r := intunev1alpha1.DeviceConfigurationUserOverview{
		TypeMeta: metav1.TypeMeta{APIVersion: intunev1alpha1.GroupVersion.String(), Kind: "DeviceConfigurationUserOverview"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   opts.Namespace,
			Annotations: map[string]string{AnnotationDisplayName: c.DisplayName},
		},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: c.ID,
			ConnectionRef:         opts.ConnectionRef,
			ManagementPolicy:      opts.Policy,
			Overview:              overviewFields(o, opts.Fields),
		},
	}
	if len(validation.IsValidLabelValue(c.ID)) == 0 {
		r.Labels = map[string]string{LabelConfigurationID: c.ID}
	}
	return r
}

// overviewFields is the spec.overview of the fields asked for (all when none), with Graph's values.
func overviewFields(o graph.Overview, fields []string) intunev1alpha1.OverviewFields {
	want := func(f string) bool { return len(fields) == 0 || slices.Contains(fields, f) }
	var s intunev1alpha1.OverviewFields
	for _, f := range []struct {
		name string
		to   **int32
		v    int32
	}{
		{"pendingCount", &s.PendingCount, o.PendingCount},
		{"notApplicableCount", &s.NotApplicableCount, o.NotApplicableCount},
		{"successCount", &s.SuccessCount, o.SuccessCount},
		{"errorCount", &s.ErrorCount, o.ErrorCount},
		{"failedCount", &s.FailedCount, o.FailedCount},
		{"configurationVersion", &s.ConfigurationVersion, o.ConfigurationVersion},
	} {
		if want(f.name) {
			*f.to = ptr.To(f.v)
		}
	}
	if want("lastUpdateDateTime") {
		s.LastUpdateDateTime = ptr.To(o.LastUpdateDateTime.UTC().Format(time.RFC3339Nano))
	}
	return s
}
