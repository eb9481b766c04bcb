package main

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// kind is one of the operator's overview kinds: what the benchmark creates, watches and counts of
// it. Both kinds' PATCHes go to Intune's device configuration service, so they share a tenant's
// budget and the emulator's windows: the bound (bound.go) counts them together.
type kind int

const (
	userKind   kind = iota // DeviceConfigurationUserOverview, Graph's userStatusOverview
	deviceKind             // DeviceConfigurationDeviceOverview, Graph's deviceStatusOverview
)

// kinds are every kind, in the order the reports list them.
var kinds = []kind{userKind, deviceKind}

// String is the kind's name, as in the API.
func (k kind) String() string {
	if k == deviceKind {
		return "DeviceConfigurationDeviceOverview"
	}
	return "DeviceConfigurationUserOverview"
}

// controller is the name of the kind's controller in the operator's metrics.
func (k kind) controller() string {
	if k == deviceKind {
		return "deviceconfigurationdeviceoverview"
	}
	return "deviceconfigurationuseroverview"
}

// entity is the overview the kind manages, as the emulator's log names it (Request.Entity).
func (k kind) entity() string {
	if k == deviceKind {
		return graphtest.DeviceStatusOverview
	}
	return graphtest.UserStatusOverview
}

func (k kind) newObject() intunev1alpha1.Overview {
	if k == deviceKind {
		return &intunev1alpha1.DeviceConfigurationDeviceOverview{}
	}
	return &intunev1alpha1.DeviceConfigurationUserOverview{}
}

func (k kind) newList() client.ObjectList {
	if k == deviceKind {
		return &intunev1alpha1.DeviceConfigurationDeviceOverviewList{}
	}
	return &intunev1alpha1.DeviceConfigurationUserOverviewList{}
}

// countKinds is how many of rs are of each kind.
func countKinds(rs []resource) map[kind]int {
	out := map[kind]int{}
	for _, r := range rs {
		out[r.kind]++
	}
	return out
}
