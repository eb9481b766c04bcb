// Command etcd is etcd v3.6 built from source through the Go module proxy, so that the envtest
// control plane needs no prebuilt download. It is a module of its own to keep etcd's dependencies
// apart from the operator's and from Kubernetes'.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
