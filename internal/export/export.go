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

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/scheme"
)

// Labels and annotations the export puts on every resource.
const (
	// LabelConfigurationID is the device configuration id, to find a configuration's resource with
	// a label selector (kubectl get dcuo -l ...).
	LabelConfigurationID = "intune.overview-operator.io/device-configuration-id"
	// AnnotationDisplayName is the configuration's display name when it was exported.
	AnnotationDisplayName = "intune.overview-operator.io/display-name"
)

// The beta-only properties and the export: by default it writes the fields of Fields alone, those
// both API versions serve (the same for every kind), even when it reads through beta. A resource that
// declares a beta-only property works only through a connection with apiVersion: beta (through a
// v1.0 one it says InvalidSpec), the resources written may name another connection than the one
// read (--connection-ref), and Microsoft changes Intune's beta more often than v1.0: declaring
// one is a choice, made with --fields (a beta-only name, or FieldsAll) and accepted only when the
// export reads through beta, so that the values written are Graph's.

// Fields are the overview fields the export writes by default: those Graph serves on v1.0 (and on
// beta), the same for every kind, in the order of Graph's metadata.
var Fields = fieldNames(func(f graph.Field) bool { return !f.Beta })

// BetaFields are the overview fields only Graph's beta API serves (conflictCount, and the device
// overview's notApplicablePlatformCount), which --fields may name when the export reads through beta.
var BetaFields = fieldNames(func(f graph.Field) bool { return f.Beta })

// FieldsAll is what --fields takes for every field the export's API version serves: Fields on
// v1.0, and BetaFields too on beta.
const FieldsAll = "all"

// fieldNames are the names of the fields of every entity that keep says to, in the table's order.
func fieldNames(keep func(graph.Field) bool) []string {
	var names []string
	for _, e := range graph.Entities {
		for _, f := range e.Declared() {
			if keep(f) && !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
	}
	return names
}

// KindAll is what --kind takes for every kind.
const KindAll = "all"

// ParseKind reads --kind: a kind of the entity table (DeviceConfigurationUserOverview,
// DeviceConfigurationDeviceOverview, without regard to case) or KindAll, and returns the entities
// to export.
func ParseKind(kind string) ([]graph.Entity, error) {
	if strings.EqualFold(kind, KindAll) {
		return graph.Entities, nil
	}
	if e, ok := graph.EntityOfKind(kind); ok {
		return []graph.Entity{e}, nil
	}
	kinds := make([]string, 0, len(graph.Entities)+1)
	for _, e := range graph.Entities {
		kinds = append(kinds, e.Kind)
	}
	return nil, fmt.Errorf("--kind %q: want %s or %s", kind, strings.Join(kinds, ", "), KindAll)
}

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
	// Entities are the overviews exported: one resource of each entity's Kind per configuration.
	// Empty: every entity of the table.
	Entities []graph.Entity
	// Fields are the overview fields put in spec.overview (names from Fields and BetaFields, or
	// FieldsAll), in the resources of the kinds that have them; empty: Fields. A beta-only one needs
	// APIVersion beta.
	Fields []string
	// APIVersion is the Graph API version Client reads ("" is v1.0).
	APIVersion string
	// NameFilter, if set, keeps only the configurations whose display name it matches.
	NameFilter *regexp.Regexp
	// Progress receives a line now and then while the export reads Graph; nil discards.
	Progress io.Writer
}

// ErrNoConfigurations is the cause of Export's error when there is nothing to export.
var ErrNoConfigurations = errors.New("nothing to export")

// Export lists the tenant's device configurations, reads each one's overviews of opts.Entities
// (those of the configurations the filter keeps), every read a ReadJob in the tenant's budget, and
// returns one resource per configuration and entity, sorted by name and then in the table's order
// of kinds. A configuration deleted between the list and its reads is left out, with a line on
// Progress. Any other failure fails the whole export: a partial export would look complete.
func Export(ctx context.Context, opts Options) ([]intunev1alpha1.Overview, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if len(opts.Entities) == 0 {
		opts.Entities = graph.Entities
	}
	if err := checkFields(opts.Fields, opts.Entities); err != nil {
		return nil, err
	}
	if err := checkBetaFields(opts.Fields, opts.APIVersion); err != nil {
		return nil, err
	}
	configs, err := opts.Client.List(ctx, func(read int) {
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

	overviews, err := readOverviews(ctx, opts.Client, kept, opts.Entities, progress)
	if err != nil {
		return nil, err
	}
	sort.Slice(kept, func(i, j int) bool { return names[kept[i].ID] < names[kept[j].ID] })
	var out []intunev1alpha1.Overview
	for _, c := range kept {
		read, ok := overviews[c.ID]
		if !ok {
			continue
		}
		for i, e := range opts.Entities {
			r, err := resource(opts, e, names[c.ID], c, read[i])
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: every device configuration listed was deleted before its overviews were read", ErrNoConfigurations)
	}
	return out, nil
}

// checkFields refuses names that are not overview fields, or that none of entities has.
func checkFields(fields []string, entities []graph.Entity) error {
	for _, f := range fields {
		if f == FieldsAll {
			continue
		}
		if !slices.Contains(Fields, f) && !slices.Contains(BetaFields, f) {
			return fmt.Errorf("--fields: %q is not an overview field; they are %s, and on Graph's beta API %s (or %s)",
				f, strings.Join(Fields, ", "), strings.Join(BetaFields, ", "), FieldsAll)
		}
		var kinds []string
		for _, e := range entities {
			if _, ok := e.Field(f); ok {
				kinds = nil
				break
			}
			kinds = append(kinds, e.Kind)
		}
		if len(kinds) > 0 {
			return fmt.Errorf("--fields: %s is not a property of %s", f, strings.Join(kinds, " or "))
		}
	}
	return nil
}

// checkBetaFields refuses a beta-only field unless the export reads through Graph's beta API: the
// value written must be Graph's, and the resources then need a beta connection too.
func checkBetaFields(fields []string, apiVersion string) error {
	if apiVersion == graph.APIVersionBeta {
		return nil
	}
	for _, f := range fields {
		if slices.Contains(BetaFields, f) {
			return fmt.Errorf("--fields: %s is a property of Graph's beta API: export through a connection with apiVersion: beta "+
				"(or --api-version beta), and have the resources name a connection with apiVersion: beta", f)
		}
	}
	return nil
}

// readOverviews reads the overviews of entities of every configuration, each a ReadJob in the
// tenant's line (which the pacer runs again while Graph throttles it), and returns them by
// configuration id, in the order of entities. The first failure withdraws the reads still waiting
// and is returned; a configuration Graph no longer has (any of its reads answered 404) is left out.
func readOverviews(ctx context.Context, c graph.Client, configs []graph.Configuration, entities []graph.Entity, progress io.Writer) (map[string][]graph.Overview, error) {
	type result struct {
		id       string
		entity   int // the index in entities
		overview graph.Overview
		err      error
	}
	reads := len(configs) * len(entities)
	results := make(chan result, reads) // a job never blocks on a reader that gave up
	key := func(e graph.Entity, id string) string { return "export/" + e.Segment + "/" + id }
	for _, cfg := range configs {
		for i, e := range entities {
			var r result
			c.Line().Submit(key(e, cfg.ID), graph.ReadJob, graph.Job{
				Run: func(jctx context.Context, calls graph.Calls) error {
					resp, err := calls.Get(jctx, e, cfg.ID)
					r = result{id: cfg.ID, entity: i, overview: resp.Overview}
					return err
				},
				Done: func(err error) {
					r.err = err
					results <- r
				},
			})
		}
	}
	withdraw := func() {
		for _, cfg := range configs {
			for _, e := range entities {
				c.Line().Withdraw(key(e, cfg.ID))
			}
		}
	}
	out := make(map[string][]graph.Overview, len(configs))
	gone := map[string]bool{}
	every := max(reads/10, 25)
	for done := 1; done <= reads; done++ {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			withdraw()
			return nil, ctx.Err()
		}
		switch {
		case r.err != nil && graph.Classify(r.err).Class == graph.ClassNotFound:
			if !gone[r.id] {
				fmt.Fprintf(progress, "device configuration %s was deleted since it was listed: left out\n", r.id)
			}
			gone[r.id] = true
		case r.err != nil:
			withdraw()
			return nil, fmt.Errorf("read the %s of device configuration %s: %w", entities[r.entity].Segment, r.id, explain(r.err))
		default:
			if out[r.id] == nil {
				out[r.id] = make([]graph.Overview, len(entities))
			}
			out[r.id][r.entity] = r.overview
		}
		if done%every == 0 || done == reads {
			fmt.Fprintf(progress, "read %d of %d overviews\n", done, reads)
		}
	}
	for id := range gone {
		delete(out, id)
	}
	return out, nil
}

// apiScheme makes the resource of an entity's kind.
var apiScheme = scheme.New()

// specFields finds the table's declared properties in spec.overview.
var specFields = graph.NewStructFields[intunev1alpha1.OverviewFields](false, graph.Entities...)

// resource is the resource of entity e (of its Kind) for one configuration and its overview.
func resource(opts Options, e graph.Entity, name string, c graph.Configuration, o graph.Overview) (intunev1alpha1.Overview, error) {
	gvk := intunev1alpha1.GroupVersion.WithKind(e.Kind)
	obj, err := apiScheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", e.Kind, err)
	}
	r, ok := obj.(intunev1alpha1.Overview)
	if !ok {
		return nil, fmt.Errorf("export %s: a %T is not an overview", e.Kind, obj)
	}
	r.GetObjectKind().SetGroupVersionKind(gvk)
	r.SetName(name)
	r.SetNamespace(opts.Namespace)
	r.SetAnnotations(map[string]string{AnnotationDisplayName: c.DisplayName})
	if len(validation.IsValidLabelValue(c.ID)) == 0 {
		r.SetLabels(map[string]string{LabelConfigurationID: c.ID})
	}
	*r.OverviewSpec() = intunev1alpha1.OverviewSpec{
		DeviceConfigurationID: c.ID,
		ConnectionRef:         opts.ConnectionRef,
		ManagementPolicy:      opts.Policy,
		Overview:              overviewFields(e, o, opts.Fields, opts.APIVersion),
	}
	return r, nil
}

// overviewFields is the spec.overview of entity e's fields asked for (Fields when none; FieldsAll:
// every field apiVersion serves), with Graph's values. A beta-only property Graph's answer lacks is
// left out.
func overviewFields(e graph.Entity, o graph.Overview, fields []string, apiVersion string) intunev1alpha1.OverviewFields {
	var s intunev1alpha1.OverviewFields
	for _, f := range e.Declared() {
		if !asked(f, fields, apiVersion) {
			continue
		}
		switch f.Kind {
		case graph.DateTime:
			t := graph.OverviewFields.Time(&o, f.Name)
			specFields.Set(&s, f.Name, ptr.To(t.UTC().Format(time.RFC3339Nano)))
		default:
			if n, ok := graph.OverviewFields.Count(&o, f.Name); ok {
				specFields.SetCount(&s, f.Name, n)
			}
		}
	}
	return s
}

// asked says whether the fields asked for (see Options.Fields) hold f, read through apiVersion.
func asked(f graph.Field, fields []string, apiVersion string) bool {
	switch {
	case len(fields) == 0:
		return !f.Beta
	case slices.Contains(fields, FieldsAll):
		return f.Served(apiVersion)
	}
	return slices.Contains(fields, f.Name)
}
