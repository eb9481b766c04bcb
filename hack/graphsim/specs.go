package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// parseApp reads "tenant:clientID:secret[:read|readwrite|none]".
func parseApp(spec string) (graphtest.App, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 3 || len(parts) > 4 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return graphtest.App{}, fmt.Errorf("--app %q: want tenant:clientID:secret[:read|readwrite|none]", spec)
	}
	app := graphtest.App{TenantID: parts[0], ClientID: parts[1], ClientSecret: parts[2]}
	if len(parts) == 4 {
		switch parts[3] {
		case "read":
			app.Permissions = []string{graphtest.PermissionRead}
		case "readwrite":
			app.Permissions = []string{graphtest.PermissionReadWrite}
		case "none":
			app.Permissions = []string{}
		default:
			return graphtest.App{}, fmt.Errorf("--app %q: permission must be read, readwrite or none", spec)
		}
	}
	return app, nil
}

// seed is one --seed: a configuration, its display name ("" for the emulator's default) and its
// starting overviews.
type seed struct {
	tenantID, configurationID string
	displayName               string
	overview, deviceOverview  graphtest.Overview
}

// overviewFields finds the table's properties in graphtest.Overview, so that --seed takes every
// property of each overview, and no other, without a list of its own.
var overviewFields = entity.NewStructFields[graphtest.Overview](false, entity.Entities...)

// parseSeed reads "tenant:configurationID[=property=value,...]", properties named as on the wire:
// the user overview's, the device overview's with "device." before them, and the configuration's
// displayName, percent-decoded so that it can hold a comma (%2C).
func parseSeed(spec string) (seed, error) {
	ids, values, _ := strings.Cut(spec, "=")
	tenant, config, ok := strings.Cut(ids, ":")
	if !ok || tenant == "" || config == "" || strings.Contains(config, ":") {
		return seed{}, fmt.Errorf("--seed %q: want tenant:configurationID[=property=value,...]", spec)
	}
	s := seed{tenantID: tenant, configurationID: config}
	if values == "" {
		return s, nil
	}
	for _, kv := range strings.Split(values, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "displayName" {
			name, err := url.PathUnescape(v)
			if err != nil || name == "" {
				return seed{}, fmt.Errorf("--seed %q: displayName must be a non-empty, percent-encoded name", spec)
			}
			s.displayName = name
			continue
		}
		e, o, name := entity.UserOverview, &s.overview, k
		if after, ok := strings.CutPrefix(k, "device."); ok {
			e, o, name = entity.DeviceOverview, &s.deviceOverview, after
		}
		f, known := e.Field(name)
		if !known {
			return seed{}, fmt.Errorf("--seed %q: %s has no property %q", spec, e.Type, name)
		}
		if f.Kind == entity.DateTime {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return seed{}, fmt.Errorf("--seed %q: %s: %w", spec, k, err)
			}
			overviewFields.SetTime(o, name, t)
			continue
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return seed{}, fmt.Errorf("--seed %q: %s must be an Int32: %w", spec, k, err)
		}
		overviewFields.SetCount(o, name, int32(n))
	}
	return s, nil
}

// parseFault reads a comma-separated list of key[=value] (see the --fault help).
func parseFault(spec string) (graphtest.Fault, error) {
	var f graphtest.Fault
	for _, kv := range strings.Split(spec, ",") {
		k, v, hasValue := strings.Cut(strings.TrimSpace(kv), "=")
		var err error
		flag := func() bool {
			if !hasValue {
				return true
			}
			b, perr := strconv.ParseBool(v)
			err = perr
			return b
		}
		switch k {
		case "token":
			f.Token = flag()
		case "hang":
			f.Hang = flag()
		case "html":
			f.HTMLPage = flag()
		case "method":
			f.Method = strings.ToUpper(v)
		case "tenant":
			f.TenantID = v
		case "config":
			f.ConfigurationID = v
		case "entity":
			if v != graphtest.UserStatusOverview && v != graphtest.DeviceStatusOverview {
				err = fmt.Errorf("%q is not %s or %s", v, graphtest.UserStatusOverview, graphtest.DeviceStatusOverview)
			}
			f.Entity = v
		case "times":
			f.Times, err = strconv.Atoi(v)
		case "latency":
			f.Latency, err = time.ParseDuration(v)
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "code":
			f.Code = v
		case "message":
			f.Message = v
		case "retry-after":
			f.RetryAfter = v
		case "drop":
			f.DropConnection = flag()
		case "malformed":
			f.MalformedBody = flag()
		case "no-content":
			f.NoContent = flag()
		case "discard-patch":
			f.DiscardPatch = flag()
		default:
			return graphtest.Fault{}, fmt.Errorf("--fault %q: unknown key %q", spec, k)
		}
		if err != nil {
			return graphtest.Fault{}, fmt.Errorf("--fault %q: %s: %w", spec, k, err)
		}
	}
	if f.Status == 0 && f.Latency == 0 && !f.Hang && !f.DropConnection && !f.MalformedBody && !f.HTMLPage && !f.NoContent && !f.DiscardPatch {
		return graphtest.Fault{}, fmt.Errorf("--fault %q: does nothing; give status, latency, hang, drop, malformed, html, no-content or discard-patch", spec)
	}
	return f, nil
}
