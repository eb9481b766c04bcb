package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// manifest is what a resource's file holds: what a user applies, without the status and the
// server's metadata (creationTimestamp, ...) that marshalling the whole object would add.
type manifest struct {
	APIVersion string                      `json:"apiVersion"`
	Kind       string                      `json:"kind"`
	Metadata   manifestMeta                `json:"metadata"`
	Spec       intunev1alpha1.OverviewSpec `json:"spec"`
}

type manifestMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Marshal returns a resource as the YAML document a user applies.
func Marshal(r intunev1alpha1.Overview) ([]byte, error) {
	apiVersion, kind := r.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
	return yaml.Marshal(manifest{
		APIVersion: apiVersion,
		Kind:       kind,
		Metadata:   manifestMeta{Name: r.GetName(), Namespace: r.GetNamespace(), Labels: r.GetLabels(), Annotations: r.GetAnnotations()},
		Spec:       *r.OverviewSpec(),
	})
}

// WriteStream writes the resources to w as one YAML stream. It renders them all first, so that a
// failure writes nothing.
func WriteStream(w io.Writer, resources []intunev1alpha1.Overview) error {
	var buf bytes.Buffer
	for _, r := range resources {
		doc, err := Marshal(r)
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(doc)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// CheckOutputDir refuses a directory the export cannot create: one that exists and is not empty
// (the export would mix with what is there), or whose parent does not exist. The export checks
// this before it reads Graph.
func CheckOutputDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		parent := filepath.Dir(filepath.Clean(dir))
		if st, err := os.Stat(parent); err != nil || !st.IsDir() {
			return fmt.Errorf("--output-dir %s: its parent directory %s does not exist", dir, parent)
		}
		return nil
	case err != nil:
		return fmt.Errorf("--output-dir %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("--output-dir %s exists and is not empty: give a new directory", dir)
	}
	return nil
}

// WriteDir writes one file per configuration (<name>.yaml, the name its resources share) into
// dir, which must not exist or be empty; a file holds the configuration's resources, one YAML
// document per kind. The files are written into a temporary directory beside it, which is renamed
// to dir at the end: a failure leaves no dir and no partial files.
func WriteDir(dir string, resources []intunev1alpha1.Overview) (err error) {
	if err := CheckOutputDir(dir); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	files := map[string]*bytes.Buffer{}
	var names []string
	for _, r := range resources {
		doc, err := Marshal(r)
		if err != nil {
			return err
		}
		f := files[r.GetName()]
		if f == nil {
			f = &bytes.Buffer{}
			files[r.GetName()] = f
			names = append(names, r.GetName())
		} else {
			f.WriteString("---\n")
		}
		f.Write(doc)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(tmp, name+".yaml"), files[name].Bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	// An empty dir is replaced; rename refuses to replace one that is not empty, so a directory
	// filled meanwhile is kept and the export fails.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--output-dir %s: %w", dir, err)
	}
	return os.Rename(tmp, dir)
}
