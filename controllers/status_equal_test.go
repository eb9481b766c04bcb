package controllers

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

var metaTime = reflect.TypeFor[metav1.Time]()

// fillLeaves sets every leaf of v to a value that is not its zero, giving every pointer a value
// and every slice one element: a status with every field of OverviewStatus set, today's and any
// added later.
func fillLeaves(t *testing.T, v reflect.Value) {
	t.Helper()
	if v.Type() == metaTime {
		v.Set(reflect.ValueOf(metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fillLeaves(t, v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillLeaves(t, v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillLeaves(t, v.Index(0))
	case reflect.String:
		v.SetString("a")
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	default:
		t.Fatalf("fillLeaves: a field of kind %s (%s): teach the test and statusEqual about it", v.Kind(), v.Type())
	}
}

// changeLeaf changes the nth leaf of v (in fillLeaves' order), counting a pointer and a slice as a
// leaf too (made nil, made shorter) before what they hold; it returns false when v has fewer.
func changeLeaf(v reflect.Value, n *int) bool {
	at := func() bool { (*n)--; return *n < 0 }
	if v.Type() == metaTime {
		if at() {
			v.Set(reflect.ValueOf(metav1.NewTime(v.Interface().(metav1.Time).Add(time.Second))))
			return true
		}
		return false
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if changeLeaf(v.Field(i), n) {
				return true
			}
		}
	case reflect.Pointer:
		if at() {
			v.Set(reflect.Zero(v.Type()))
			return true
		}
		return changeLeaf(v.Elem(), n)
	case reflect.Slice:
		if at() {
			v.Set(v.Slice(0, 0))
			return true
		}
		for i := range v.Len() {
			if changeLeaf(v.Index(i), n) {
				return true
			}
		}
	case reflect.String:
		if at() {
			v.SetString(v.String() + "x")
			return true
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if at() {
			v.SetInt(v.Int() + 1)
			return true
		}
	}
	return false
}

// TestStatusEqualSeesEveryField: statusEqual says what equality.Semantic says of two statuses that
// differ in any one field, nested ones included, of OverviewStatus as it is now; a field added
// later that statusEqual does not compare fails here.
func TestStatusEqualSeesEveryField(t *testing.T) {
	base := &intunev1alpha1.OverviewStatus{}
	fillLeaves(t, reflect.ValueOf(base).Elem())
	if !statusEqual(base, base.DeepCopy()) {
		t.Fatal("a status and its copy differ")
	}
	moved := base.DeepCopy()
	moved.LastSyncTime = &metav1.Time{Time: moved.LastSyncTime.In(time.FixedZone("CET", 3600))}
	if !statusEqual(base, moved) {
		t.Error("the same instant in another location differs")
	}
	leaves := 0
	for n := 0; ; n++ {
		changed := base.DeepCopy()
		left := n
		if !changeLeaf(reflect.ValueOf(changed).Elem(), &left) {
			break
		}
		leaves++
		if equality.Semantic.DeepEqual(base, changed) {
			t.Fatalf("change %d made no difference to equality.Semantic: %+v", n, changed)
		}
		if statusEqual(base, changed) || statusEqual(changed, base) {
			t.Errorf("change %d is not seen by statusEqual: %+v", n, changed)
		}
	}
	if leaves < 30 {
		t.Fatalf("only %d changes made: the walk missed the status's fields", leaves)
	}
	t.Logf("%d changes, each seen", leaves)
}
