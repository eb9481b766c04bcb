package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// scriptTimeout is how long Argo CD lets a script run.
const scriptTimeout = time.Second

// HealthStatus is what a health script returns, as Argo CD reads it.
type HealthStatus struct {
	// Status is Healthy, Progressing, Degraded, Suspended, Missing or Unknown.
	Status string `json:"status,omitempty"`
	// Message says why.
	Message string `json:"message,omitempty"`
}

// Action is one action a discovery script offers, as Argo CD reads it.
type Action struct {
	// Name is the action's name: its folder under actions/ and its definition in argocd-cm.
	Name string `json:"name"`
	// Disabled greys the action out in Argo CD.
	Disabled bool `json:"disabled,omitempty"`
	// DisplayName is what Argo CD shows for it.
	DisplayName string `json:"displayName,omitempty"`
	// IconClass is the action's icon.
	IconClass string `json:"iconClass,omitempty"`
}

// validHealth are the statuses Argo CD accepts from a script; anything else becomes Unknown.
var validHealth = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// VM runs scripts as Argo CD does, with the libraries it opens when useOpenLibs is not set (the
// default for scripts installed through argocd-cm).
type VM struct {
	// Now is the clock of os.date and os.time; nil is time.Now. Its location is the "local" time
	// of os.date without "!".
	Now func() time.Time
}

// Health runs a health script on obj.
func (vm VM) Health(script string, obj map[string]any) (HealthStatus, error) {
	ret, err := vm.run(script, obj)
	if err != nil {
		return HealthStatus{}, err
	}
	if ret == nil {
		return HealthStatus{}, nil
	}
	var hs HealthStatus
	if err := decodeInto(ret, &hs); err != nil {
		return HealthStatus{}, fmt.Errorf("health script returned %v: %w", ret, err)
	}
	if !validHealth[hs.Status] {
		return HealthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// Discover runs an action discovery script on obj and returns the actions it offers, by name.
func (vm VM) Discover(script string, obj map[string]any) ([]Action, error) {
	ret, err := vm.run(script, obj)
	if err != nil {
		return nil, err
	}
	var actions []Action
	switch t := ret.(type) {
	case []any:
		if len(t) > 0 {
			return nil, fmt.Errorf("discovery script returned a list, not a table of actions by name")
		}
	case map[string]any:
		for name, v := range t {
			a := Action{Name: name}
			if m, ok := v.(map[string]any); ok { // an empty table ({}) is an action with defaults
				if err := decodeInto(m, &a); err != nil {
					return nil, fmt.Errorf("action %s: %w", name, err)
				}
				a.Name = name
			}
			actions = append(actions, a)
		}
	default:
		return nil, fmt.Errorf("expect table output from Lua script, not %T", ret)
	}
	sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
	return actions, nil
}

// Act runs an action script that returns the modified object (Argo CD's "patch" action) and
// returns that object. As Argo CD does, a table left empty where obj had an object (say,
// metadata.annotations after its last key is removed) is an empty object, not an empty list.
func (vm VM) Act(script string, obj map[string]any) (map[string]any, error) {
	ret, err := vm.run(script, obj)
	if err != nil {
		return nil, err
	}
	out, ok := ret.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("action script returned %T, not the object", ret)
	}
	return keepObjects(out, obj), nil
}

func (vm VM) run(script string, obj map[string]any) (any, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, fmt.Errorf("opening %s: %w", lib.name, err)
		}
	}
	// Argo CD registers its safe os under the table library's name, which changes nothing since
	// table is already loaded: the global os stays nil and only require("os") reaches it.
	l.PreloadModule(lua.OsLibName, safeOS(vm.clock))

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("actionParams", l.NewTable())
	l.SetGlobal("obj", toLua(l, obj))

	fn, err := l.LoadString(script)
	if err != nil {
		return nil, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		var apiErr *lua.ApiError
		if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
			apiErr.StackTrace = ""
		}
		return nil, err
	}
	ret := l.Get(-1)
	if ret == lua.LNil {
		return nil, nil
	}
	if ret.Type() != lua.LTTable {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	return fromLua(ret)
}

func (vm VM) clock() time.Time {
	if vm.Now != nil {
		return vm.Now()
	}
	return time.Now()
}

// decodeInto reads a value from Lua into a Go struct through JSON, as Argo CD does.
func decodeInto(v any, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}
