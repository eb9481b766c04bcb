package argocd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/argocd"
)

// TestVMOpensWhatArgoCDOpens holds the VM to the libraries Argo CD gives a script installed
// through argocd-cm: base, table and package, os only through require and only date and time;
// and to how it reads what a script returns.
func TestVMOpensWhatArgoCDOpens(t *testing.T) {
	vm := argocd.VM{Now: func() time.Time { return time.Date(2026, 11, 28, 11, 5, 7, 0, time.FixedZone("CET", 3600)) }}
	obj := map[string]any{"metadata": map[string]any{"name": "x", "generation": int64(3)}}
	cases := map[string]struct {
		script  string
		want    argocd.HealthStatus
		wantErr string
	}{
		"base and table are open": {
			script: `local t = {} table.insert(t, tostring(obj.metadata.generation)) return {status = "Healthy", message = t[1] .. type(ipairs)}`,
			want:   argocd.HealthStatus{Status: "Healthy", Message: "3function"},
		},
		"string, math, io and the global os are not": {
			script: `return {status = "Healthy", message = type(string) .. type(math) .. type(io) .. type(os) .. type(debug)}`,
			want:   argocd.HealthStatus{Status: "Healthy", Message: "nilnilnilnilnil"},
		},
		"require(os) has date and time only": {
			script: `local os = require("os") local n = 0 for _ in pairs(os) do n = n + 1 end
				return {status = "Healthy", message = n .. type(os.date) .. type(os.time) .. type(os.exit) .. type(os.getenv)}`,
			want: argocd.HealthStatus{Status: "Healthy", Message: "2functionfunctionnilnil"},
		},
		"os.date with ! is UTC, without it local time": {
			script: `local os = require("os") return {status = "Healthy", message = os.date("!%Y-%m-%dT%XZ") .. " " .. os.date("%H:%M %%")}`,
			want:   argocd.HealthStatus{Status: "Healthy", Message: "2026-11-28T10:05:07Z 11:05 %"},
		},
		"os.time is the clock's": {
			script: `local os = require("os") return {status = "Healthy", message = tostring(os.time() - os.time({year = 2026, month = 11, day = 28, hour = 11, min = 5}))}`,
			want:   argocd.HealthStatus{Status: "Healthy", Message: "7"},
		},
		"a status Argo CD does not know is Unknown": {
			script: `return {status = "Fine"}`,
			want:   argocd.HealthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"},
		},
		"nothing returned is no health": {
			script: `local x = 1`,
			want:   argocd.HealthStatus{},
		},
		"a string function is an error": {
			script:  `return {status = "Healthy", message = string.format("%d", 1)}`,
			wantErr: "attempt to index a non-table object(nil) with key 'format'",
		},
		"a script that does not end is stopped": {
			script:  `while true do end`,
			wantErr: "context deadline exceeded",
		},
		"a string is not a health status": {
			script:  `return "Healthy"`,
			wantErr: "expect table output from Lua script, not string",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := vm.Health(tc.script, obj)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestActKeepsEmptyObjects: an action that removes an object's last key returns an empty object
// there, not the empty list Lua's encoder makes of an empty table, as Argo CD does.
func TestActKeepsEmptyObjects(t *testing.T) {
	obj := map[string]any{
		"metadata": map[string]any{"name": "x", "annotations": map[string]any{"a": "b"}},
		"spec":     map[string]any{"list": []any{"one"}},
	}
	got, err := argocd.VM{}.Act(`obj.metadata.annotations["a"] = nil obj.spec.list[1] = nil return obj`, obj)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"metadata": map[string]any{"name": "x", "annotations": map[string]any{}},
		"spec":     map[string]any{"list": []any{}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
