#!/usr/bin/env bash
# go-build.sh OUT PACKAGE: go build -o OUT PACKAGE, leaving OUT's modification time as it was when
# the binary came out the same. go build touches a binary that is already up to date, and go's test
# cache counts a file a test opens by its size and modification time: every `make build` would
# otherwise run again the tests that open bin/manager (test/helm), however unchanged.
set -euo pipefail
out=$1
pkg=$2
if [[ ! -f $out ]]; then
  exec go build -o "$out" "$pkg"
fi
ref=$(mktemp)
trap 'rm -f "$ref"' EXIT
touch -r "$out" "$ref"
before=$(cksum < "$out")
go build -o "$out" "$pkg"
if [[ $(cksum < "$out") == "$before" ]]; then
  touch -r "$ref" "$out"
fi
