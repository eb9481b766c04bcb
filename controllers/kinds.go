package controllers

import (
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// kind is all the reconciler knows of one kind of resource: its Graph entity (from graph's
// table) and its API types. The pass, the memory, the job, the judgement and the status are
// written once, over intunev1alpha1.Overview; adding a kind is an API types file, an entry in
// graph.Entities and an entry here.
type kind struct {
	entity    graph.Entity
	newObject func() intunev1alpha1.Overview
	// newList returns an empty list of the kind, and items the objects of a list it returned.
	newList func() client.ObjectList
	items   func(client.ObjectList) []intunev1alpha1.Overview
}

// kinds are the kinds the operator reconciles, one reconciler each.
var kinds = []kind{
	{
		entity:    graph.UserOverview,
		newObject: func() intunev1alpha1.Overview { return &intunev1alpha1.DeviceConfigurationUserOverview{} },
		newList:   func() client.ObjectList { return &intunev1alpha1.DeviceConfigurationUserOverviewList{} },
		items: func(l client.ObjectList) []intunev1alpha1.Overview {
			return itemsOf(l.(*intunev1alpha1.DeviceConfigurationUserOverviewList).Items)
		},
	},
	{
		entity:    graph.DeviceOverview,
		newObject: func() intunev1alpha1.Overview { return &intunev1alpha1.DeviceConfigurationDeviceOverview{} },
		newList:   func() client.ObjectList { return &intunev1alpha1.DeviceConfigurationDeviceOverviewList{} },
		items: func(l client.ObjectList) []intunev1alpha1.Overview {
			return itemsOf(l.(*intunev1alpha1.DeviceConfigurationDeviceOverviewList).Items)
		},
	},
}

// itemsOf returns pointers to the items of a list.
func itemsOf[T any, PT interface {
	*T
	intunev1alpha1.Overview
}](items []T) []intunev1alpha1.Overview {
	out := make([]intunev1alpha1.Overview, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

// name is the kind's name in lower case: its controller's name, and the kind label of its metrics.
func (k kind) name() string { return strings.ToLower(k.entity.Kind) }
