package controllers

import (
	"context"
	"testing"
	"unsafe"

	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// TestKeyOfIsMadeOncePerVersion: the key of a connection is made once for each version of the
// connection and its Secret, so that the records of a tenant share its strings; a new generation,
// a new Secret version or a connection forgotten makes it anew.
func TestKeyOfIsMadeOncePerVersion(t *testing.T) {
	ctx := context.Background()
	conn, secret := offlineConnection("team-a"), offlineSecret("team-a")
	kube := fake.NewClientBuilder().WithScheme(offlineScheme).WithObjects(conn, secret).Build()
	c := offlineConnections(t, kube, nil, nil)
	key := func() clientKey {
		t.Helper()
		k, err := c.keyOf(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	same := func(a, b clientKey) bool {
		return unsafe.StringData(a.connection) == unsafe.StringData(b.connection) &&
			unsafe.StringData(a.version) == unsafe.StringData(b.version)
	}

	first := key()
	if again := key(); again != first || !same(again, first) {
		t.Errorf("the key was made twice for one version: %+v, %+v", first, again)
	}
	conn.Generation++
	newGeneration := key()
	if newGeneration == first {
		t.Errorf("a new generation kept the key %+v", first)
	}
	if err := kube.Update(ctx, secret); err != nil { // a new resourceVersion
		t.Fatal(err)
	}
	if newSecret := key(); newSecret == newGeneration {
		t.Errorf("a new Secret version kept the key %+v", newGeneration)
	}
	kept := key()
	c.forget(kept.connection)
	if len(c.keys) != 0 {
		t.Errorf("a forgotten connection's key is still kept: %+v", c.keys)
	}
	if made := key(); made != kept || same(made, kept) {
		t.Errorf("after forget, the key %+v was not made anew (%+v)", kept, made)
	}
}
