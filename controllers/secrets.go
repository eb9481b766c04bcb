package controllers

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// secrets reads the Secrets connections name, and only those the operator may use: with a label
// selector, only Secrets that carry the label. Metadata comes from the cache where it holds the
// namespace (so that a change to the Secret brings its users back), and straight from the API
// server elsewhere: a ClusterGraphConnection's secretNamespace need not be a watched one. Values
// are always read straight from the API server, and never cached.
type secrets struct {
	cache      client.Reader // the manager's cache, with Secrets' metadata in the watched namespaces
	apiReader  client.Reader
	namespaces []string        // the namespaces the cache holds; empty: all
	selector   labels.Selector // the label a Secret must carry; nil: none
	// recheck is how often a Secret outside the cache is read again after it failed: no watch
	// says when it changes.
	recheck time.Duration
}

// cached says whether the cache holds the Secrets of a namespace.
func (s *secrets) cached(namespace string) bool {
	return len(s.namespaces) == 0 || slices.Contains(s.namespaces, namespace)
}

// version returns the Secret's resourceVersion, or a stalled error that says what is missing.
func (s *secrets) version(ctx context.Context, namespace, name string) (string, error) {
	meta := secretMetadata()
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if s.cached(namespace) {
		err := s.cache.Get(ctx, key, meta, client.UnsafeDisableDeepCopy) // read only
		if apierrors.IsNotFound(err) && s.selector != nil {
			// The cache holds only labelled Secrets: tell a Secret without the label from none.
			err = s.apiReader.Get(ctx, key, meta)
		}
		if err != nil {
			return "", s.notFound(err, namespace, name)
		}
	} else if err := s.apiReader.Get(ctx, key, meta); err != nil {
		return "", s.notFound(err, namespace, name)
	}
	if err := s.admits(namespace, name, meta.Labels); err != nil {
		return "", err
	}
	return meta.ResourceVersion, nil
}

// data reads a Secret's values and checks that it has the keys named ("" keys are optional and
// skipped).
func (s *secrets) data(ctx context.Context, namespace, name string, keys ...string) (map[string][]byte, error) {
	secret := &corev1.Secret{}
	if err := s.apiReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret); err != nil {
		return nil, s.notFound(err, namespace, name)
	}
	if err := s.admits(namespace, name, secret.Labels); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k != "" && len(secret.Data[k]) == 0 {
			return nil, s.notFoundf(namespace,
				"Secret %q in namespace %q has no key %q", name, namespace, k)
		}
	}
	return secret.Data, nil
}

// admits refuses a Secret without the label the operator requires.
func (s *secrets) admits(namespace, name string, l map[string]string) error {
	if s.selector == nil || s.selector.Matches(labels.Set(l)) {
		return nil
	}
	return s.notFoundf(namespace,
		"Secret %q in namespace %q lacks the labels the operator requires (--secret-label-selector=%s): label it, and it is used at once",
		name, namespace, s.selector)
}

// notFound turns a NotFound into a stalled error that says what to create; other errors pass
// through to be retried.
func (s *secrets) notFound(err error, namespace, name string) error {
	if apierrors.IsForbidden(err) {
		// Least-privilege RBAC (a Role per namespace) that leaves this namespace out.
		return s.notFoundf(namespace,
			"the operator may not read Secret %q in namespace %q: grant its service account get on Secrets there (a Role, as config/least-privilege does)",
			name, namespace)
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	if s.selector != nil {
		return s.notFoundf(namespace,
			"Secret %q does not exist in namespace %q: create it with the app's credentials and the labels the operator requires (--secret-label-selector=%s)",
			name, namespace, s.selector)
	}
	return s.notFoundf(namespace,
		"Secret %q does not exist in namespace %q: create it with the app's credentials", name, namespace)
}

// notFoundf is a SecretNotFound about a Secret of namespace: one outside the cache is read again
// every recheck, since no watch brings its users back when it is fixed.
func (s *secrets) notFoundf(namespace, format string, args ...any) error {
	err := stalledf(intunev1alpha1.ReasonSecretNotFound, format, args...).(*stalled)
	if !s.cached(namespace) {
		err.recheck = s.recheck
	}
	return err
}

func secretMetadata() *metav1.PartialObjectMetadata {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return meta
}
