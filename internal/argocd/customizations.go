package argocd

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// Customization is the Lua of one kind, laid out as in argoproj/argo-cd:
// <group>/<kind>/health.lua, <group>/<kind>/actions/discovery.lua and
// <group>/<kind>/actions/<action>/action.lua.
type Customization struct {
	// Group and Kind name the kind.
	Group, Kind string
	// Dir is the kind's folder in the tree.
	Dir string
	// Health is health.lua; empty when the kind has none.
	Health string
	// Discovery is actions/discovery.lua; empty when the kind has no actions.
	Discovery string
	// Actions are the action.lua scripts by action name.
	Actions map[string]string
}

// Load reads every kind of a resource_customizations tree, sorted by group and kind.
func Load(fsys fs.FS) ([]Customization, error) {
	dirs, err := fs.Glob(fsys, "*/*")
	if err != nil {
		return nil, err
	}
	var out []Customization
	for _, dir := range dirs {
		if fi, err := fs.Stat(fsys, dir); err != nil || !fi.IsDir() {
			continue
		}
		c := Customization{Group: path.Dir(dir), Kind: path.Base(dir), Dir: dir, Actions: map[string]string{}}
		if c.Health, err = readOptional(fsys, path.Join(dir, "health.lua")); err != nil {
			return nil, err
		}
		if c.Discovery, err = readOptional(fsys, path.Join(dir, "actions", "discovery.lua")); err != nil {
			return nil, err
		}
		scripts, err := fs.Glob(fsys, path.Join(dir, "actions", "*", "action.lua"))
		if err != nil {
			return nil, err
		}
		for _, s := range scripts {
			b, err := fs.ReadFile(fsys, s)
			if err != nil {
				return nil, err
			}
			c.Actions[path.Base(path.Dir(s))] = string(b)
		}
		if c.Discovery == "" && len(c.Actions) > 0 {
			return nil, fmt.Errorf("%s has actions but no actions/discovery.lua", dir)
		}
		out = append(out, c)
	}
	return out, nil
}

func readOptional(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return string(b), nil
}
