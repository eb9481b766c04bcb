// Command argocd renders config/argocd/argocd-cm.yaml, the argocd-cm patch that installs the Argo
// CD health checks and actions of config/argocd/resource_customizations. Run it from the
// repository's root, through 'make argocd'; internal/argocd's tests fail while the file is stale.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/overview-operator/overview-operator/internal/argocd"
)

func main() {
	tree := flag.String("tree", "config/argocd/resource_customizations", "the resource_customizations tree")
	out := flag.String("out", "config/argocd/argocd-cm.yaml", "the ConfigMap to write")
	flag.Parse()

	cs, err := argocd.Load(os.DirFS(*tree))
	if err != nil {
		log.Fatal(err)
	}
	b, err := argocd.RenderConfigMap(cs)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
