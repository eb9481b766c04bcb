# overview-operator. `make help` lists the targets.

IMG ?= ghcr.io/overview-operator/overview-operator:latest
CONTAINER_TOOL ?= docker

# Tools and the envtest control plane are built from source into ./bin (no prebuilt downloads).
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm
CHART := charts/overview-operator
# What make deploy and make undeploy apply: config/default (one replica, leader election),
# config/sharded (three replicas sharing the work by tenant) or config/least-privilege.
DEPLOY_CONFIG ?= config/default
ENVTEST_DIR ?= $(LOCALBIN)/k8s
KUBECTL ?= $(ENVTEST_DIR)/kubectl
export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)
# make test starts a dozen control planes at once (a suite's parallel processes each start one) on
# two cores, beside the compiler: a kube-apiserver can take longer than envtest's 20 s default to
# become ready, and envtest's five retries each start again from nothing.
export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT ?= 3m

GO_TEST_FLAGS ?=
# Modules of their own, whose tests make test runs too: hack/monitoring parses the alerts and the
# dashboard with Prometheus' parsers, which the operator's go.mod should not carry.
TEST_MODULES := hack/monitoring
# The tool, control-plane, etcd and test modules, kept tidy like the root one.
TIDY_MODULES := hack/tools hack/etcd hack/controlplane $(TEST_MODULES)

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the RBAC role from the kubebuilder markers, and copy the CRDs into the chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(MAKE) --no-print-directory chart-crds

.PHONY: chart-crds
chart-crds: ## Copy the CRDs into the Helm chart's crds/, and the alerts into its files/ (make manifests does it; make verify fails when they differ).
	rm -f $(CHART)/crds/*.yaml
	cp config/crd/bases/*.yaml $(CHART)/crds/
	mkdir -p $(CHART)/files
	cp config/prometheus/rules/alerts.yaml $(CHART)/files/alerts.yaml

.PHONY: generate
generate: controller-gen ## Generate the deepcopy functions.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: argocd
argocd: ## Render config/argocd/argocd-cm.yaml (the argocd-cm patch) from the Lua in config/argocd/resource_customizations.
	go run ./hack/argocd

.PHONY: fmt
fmt: ## Run gofmt on the code: rewrites and lists the files it changed; with CI set (as .ci/run sets it), lists them and fails instead.
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then \
		if [ -n "$$CI" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi; \
		gofmt -w $$out; echo "formatted: $$out"; \
	fi

.PHONY: vet
vet: ## Run go vet (in the test modules too).
	go vet ./...
	@for m in $(TEST_MODULES); do (cd $$m && go vet ./...) || exit 1; done

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml) over every package: linters and the gofmt/goimports formatters.
	$(GOLANGCI_LINT) run ./...

.PHONY: test
test: fmt vet ## Run every test: the unit tests, then the envtest suite and the end-to-end suites at once (builds the control plane and the tools the first time).
	@$(MAKE) --no-print-directory test-units
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-controllers test-e2e test-faults

.PHONY: test-fast
test-fast: fmt vet ## The inner loop: the unit tests and the envtest suite, at once, without the end-to-end suites.
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-units test-controllers

# The suites below spend most of their time waiting on the wall clock (a resync, a backoff, a lease, a
# process's start), not on the two cores. The three ginkgo suites run their specs in parallel
# processes with ginkgo's CLI (pinned in go.mod as a tool), each process with a control plane and an
# emulator of its own, and make test runs the four targets at once. `go test ./...` runs the same
# specs one after another.
GINKGO ?= go tool ginkgo
GINKGO_FLAGS ?=
# Each suite's test binary is linked into its package's directory (git ignores *.test), where ginkgo
# runs it: go test -c leaves an up-to-date binary alone, where ginkgo's own build would link it anew
# into a temporary directory on every run (about 5 s of the two cores for each suite).
SUITE_BINARY = go test -c -o $(1)/$(notdir $(1)).test ./$(1)
# Processes per suite: enough that no process holds much more than the suite's longest spec.
CONTROLLERS_PROCS ?= 4
E2E_PROCS ?= 3
FAULTS_PROCS ?= 2

.PHONY: test-units
test-units: envtest build kustomize helm ## The unit tests: every package but the three ginkgo suites, and the test modules'.
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v -e '/test/e2e' -e '/controllers$$')
	@for m in $(TEST_MODULES); do (cd $$m && go test $(GO_TEST_FLAGS) ./...) || exit 1; done

.PHONY: test-controllers
test-controllers: envtest ## The envtest suite of the reconcilers (./controllers), in parallel processes.
	$(call SUITE_BINARY,controllers)
	$(GINKGO) $(GINKGO_FLAGS) --procs=$(CONTROLLERS_PROCS) controllers/controllers.test

.PHONY: test-e2e
test-e2e: envtest build kustomize ## The end-to-end suite (./test/e2e), in parallel processes.
	$(call SUITE_BINARY,test/e2e)
	$(GINKGO) $(GINKGO_FLAGS) --procs=$(E2E_PROCS) test/e2e/e2e.test

.PHONY: test-faults
test-faults: envtest build ## The fault suite (./test/e2e/faults), its two halves in parallel processes.
	$(call SUITE_BINARY,test/e2e/faults)
	$(GINKGO) $(GINKGO_FLAGS) --procs=$(FAULTS_PROCS) test/e2e/faults/faults.test

.PHONY: verify
verify: manifests generate argocd ## Fail when regenerating the CRDs, RBAC, deepcopy or argocd-cm.yaml, go mod tidy (every module) or gofmt would change the tree.
	@for m in . $(TIDY_MODULES); do (cd $$m && go mod tidy) || exit 1; done
	@gofmt -l $$(git ls-files '*.go') | sed 's/^/gofmt would change: /' | grep . && exit 1 || true
	@git diff --exit-code -- config api $(CHART) go.mod go.sum $(addsuffix /go.mod,$(TIDY_MODULES)) $(addsuffix /go.sum,$(TIDY_MODULES)) || { echo "generated or tidied files are stale: run 'make manifests generate', 'go mod tidy' in each module, and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- config api $(CHART))" || { git status --porcelain -- config api $(CHART); echo "untracked generated files: commit them"; exit 1; }

##@ Build

.PHONY: build
build: ## Build the manager binary into bin/manager and the kubectl plugin into bin/kubectl-intune.
	hack/go-build.sh $(LOCALBIN)/manager .
	hack/go-build.sh $(LOCALBIN)/kubectl-intune ./cmd/kubectl-intune

.PHONY: demo
demo: envtest build ## Run the operator end to end on this machine: control plane, Graph emulator, samples (DEMO_ARGS=--exit to stop after the table).
	go run ./hack/demo $(DEMO_ARGS)

.PHONY: run
run: manifests generate ## Run the manager from your host against the cluster in ~/.kube/config.
	go run . $(ARGS)

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image.
	$(CONTAINER_TOOL) push $(IMG)

##@ Benchmark

.PHONY: bench
bench: envtest build ## Measure the operator against the Graph emulator's throttling limits; writes bin/bench/bench.md and bench.json (BENCH_ARGS="-n 10000 -tenants 2").
	go run ./hack/bench $(BENCH_ARGS)

.PHONY: bench-sweep
bench-sweep: envtest build ## Run the first-sync sweep (latency x tenants, the drain cases, 8 tenants), each in a fresh environment; writes bin/bench/sweep.md, sweep.json and an SVG per entry (BENCH_ARGS="-sweep-only lat20-t1,drain4000").
	go run ./hack/bench -sweep $(BENCH_ARGS)

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster in ~/.kube/config.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: kustomize ## Remove the CRDs (and every resource of these kinds) from the cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator to the cluster in ~/.kube/config, with image $(IMG) (DEPLOY_CONFIG=config/sharded: three replicas sharing the work).
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build $(DEPLOY_CONFIG) | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build $(DEPLOY_CONFIG) | kubectl delete --ignore-not-found -f -

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen (pinned in hack/tools) into bin/.
$(CONTROLLER_GEN): hack/tools/go.mod
	cd hack/tools && go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Build kustomize (pinned in hack/tools) into bin/.
$(KUSTOMIZE): hack/tools/go.mod
	cd hack/tools && go build -o $(KUSTOMIZE) sigs.k8s.io/kustomize/kustomize/v5

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint (pinned in hack/tools) into bin/ (about 3 minutes cold on 2 cores).
$(GOLANGCI_LINT): hack/tools/go.mod
	cd hack/tools && go build -o $(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

.PHONY: helm
helm: $(HELM) ## Build helm (pinned in hack/tools) into bin/.
$(HELM): hack/tools/go.mod
	cd hack/tools && go build -o $(HELM) helm.sh/helm/v4/cmd/helm

.PHONY: envtest
envtest: ## Build kube-apiserver, kubectl and etcd from source into bin/k8s (minutes the first time, then cached).
	hack/build-controlplane.sh $(ENVTEST_DIR)
