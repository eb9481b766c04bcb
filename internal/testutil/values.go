package testutil

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Values are the valid and invalid values of a field, from a list in api/v1alpha1/testdata. The
// CRD's validation and the operator's own reading of the field are both tested against the same
// list, so that what the API server admits and what the operator can use cannot drift apart.
type Values struct{ Valid, Invalid []string }

// ReadValues reads a list of values, such as api/v1alpha1/testdata/url.yaml.
func ReadValues(path string) (Values, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Values{}, err
	}
	var values Values
	if err := yaml.Unmarshal(data, &values); err != nil {
		return Values{}, fmt.Errorf("%s: %w", path, err)
	}
	return values, nil
}
