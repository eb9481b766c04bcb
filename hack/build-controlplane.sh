#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, kubectl, etcd) from source through the Go module
# proxy into the directory given as $1. Nothing prebuilt is downloaded, so this works on air-gapped
# build machines that reach only a module proxy. Binaries already present at the pinned version are kept.
#
# The binaries are built as the operator's packages are (go's defaults: no -trimpath, cgo as the
# machine has it), and hack/controlplane/go.mod requires the operator's versions of the modules both
# use (TestToolsShareTheOperatorsModules): the Kubernetes libraries, golang.org/x and the
# standard library that `go vet` or `go test` compiled for the operator come out of the build cache
# instead of being compiled a second time with other flags or versions.
set -euo pipefail

out=$(realpath -m "${1:?usage: build-controlplane.sh OUTDIR}")
here=$(cd "$(dirname "$0")" && pwd)
kube_version=v1.37.2
etcd_version=v3.6.16
mkdir -p "$out"

stamp="-s -w -X k8s.io/component-base/version.gitVersion=${kube_version} \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
-X k8s.io/component-base/version.gitTreeState=clean"

have() { [ -x "$out/$1" ] && [ "$(cat "$out/.$1.version" 2>/dev/null)" = "$2" ]; }

build() { # name version dir package ldflags
	local name=$1 version=$2 dir=$3 pkg=$4 ldflags=$5
	if have "$name" "$version"; then
		echo "envtest: $name $version is built"
		return
	fi
	echo "envtest: building $name $version from source (a few minutes the first time)"
	local start=$SECONDS
	(cd "$here/$dir" && go build -ldflags "$ldflags" -o "$out/$name" "$pkg")
	echo "$version" >"$out/.$name.version"
	echo "envtest: built $name in $((SECONDS - start))s"
}

build etcd "$etcd_version" etcd . "-s -w"
build kube-apiserver "$kube_version" controlplane k8s.io/kubernetes/cmd/kube-apiserver "$stamp"
build kubectl "$kube_version" controlplane k8s.io/kubernetes/cmd/kubectl "$stamp"
