package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAPIWritesAreTheDifferenceOfWrites(t *testing.T) {
	before := []byte(`# HELP apiserver_request_total x
apiserver_request_total{code="201",component="apiserver",group="intune.overview-operator.io",resource="deviceconfigurationuseroverviews",subresource="",verb="POST",version="v1alpha1"} 10
apiserver_request_total{code="200",component="apiserver",group="",resource="events",subresource="",verb="POST",version="v1"} 5
apiserver_request_duration_seconds_sum{component="apiserver",group="",resource="events",subresource="",verb="POST",version="v1"} 0.5
`)
	after := []byte(`apiserver_request_total{code="201",component="apiserver",group="intune.overview-operator.io",resource="deviceconfigurationuseroverviews",subresource="",verb="POST",version="v1alpha1"} 110
apiserver_request_total{code="409",component="apiserver",group="intune.overview-operator.io",resource="deviceconfigurationuseroverviews",subresource="",verb="POST",version="v1alpha1"} 2
apiserver_request_duration_seconds_sum{component="apiserver",group="intune.overview-operator.io",resource="deviceconfigurationuseroverviews",subresource="",verb="POST",version="v1alpha1"} 4.5
apiserver_request_total{code="200",component="apiserver",group="intune.overview-operator.io",resource="deviceconfigurationuseroverviews",subresource="status",verb="PATCH",version="v1alpha1"} 100
apiserver_request_total{code="200",component="apiserver",group="",resource="events",subresource="",verb="POST",version="v1"} 9
apiserver_request_duration_seconds_sum{component="apiserver",group="",resource="events",subresource="",verb="POST",version="v1"} 0.9
apiserver_request_total{code="200",component="apiserver",group="",resource="pods",subresource="",verb="LIST",version="v1"} 1000
`)
	got := apiWrites(before, after, 10)
	want := []APIWrites{
		{Verb: "POST", Resource: "deviceconfigurationuseroverviews", Count: 102, Seconds: 4.5},
		{Verb: "PATCH", Resource: "deviceconfigurationuseroverviews", Subresource: "status", Count: 100},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("apiWrites (-want +got):\n%s", d)
	}
	if s, w := formatAPIWrites(got), "102 POST deviceconfigurationuseroverviews (4.5 s), 100 PATCH deviceconfigurationuseroverviews/status (0.0 s)"; s != w {
		t.Errorf("formatAPIWrites = %q, want %q", s, w)
	}
}

func TestCPUSharesPerWallSecond(t *testing.T) {
	t0 := time.Now()
	from := cpuSnapshot{at: t0, seconds: map[string]float64{shareOperator: 1, shareAPIServer: 2}}
	to := cpuSnapshot{at: t0.Add(2 * time.Second), seconds: map[string]float64{shareOperator: 1.5, shareAPIServer: 5, shareEtcd: 9}}
	got := cpuShares(from, to)
	if d := cmp.Diff(map[string]float64{shareOperator: 0.25, shareAPIServer: 1.5}, got); d != "" {
		t.Errorf("cpuShares (-want +got):\n%s", d)
	}
	if s, w := formatShares(got), "kube-apiserver 1.50, operator 0.25"; s != w {
		t.Errorf("formatShares = %q, want %q", s, w)
	}
}
