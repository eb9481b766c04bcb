// Package helm tests the Helm chart in charts/overview-operator with the helm and kustomize built
// from source into bin/ (make helm kustomize; make test builds both): helm lint, helm template with
// the default values and with every toggle on, a server-side dry run of what it renders on a local
// control plane, and a comparison with what kustomize builds from config/default, so that the two
// install paths do not drift apart.
package helm
