package argocd

import (
	"encoding/json"
	"errors"
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// toLua turns a decoded Kubernetes object into Lua values: objects into tables by key, lists into
// sequences, numbers into Lua numbers (json.Number into a string, as Argo CD does).
func toLua(l *lua.LState, v any) lua.LValue {
	switch t := v.(type) {
	case bool:
		return lua.LBool(t)
	case float64:
		return lua.LNumber(t)
	case int:
		return lua.LNumber(t)
	case int32:
		return lua.LNumber(t)
	case int64:
		return lua.LNumber(t)
	case string:
		return lua.LString(t)
	case json.Number:
		return lua.LString(t)
	case []any:
		tb := l.CreateTable(len(t), 0)
		for _, item := range t {
			tb.Append(toLua(l, item))
		}
		return tb
	case map[string]any:
		tb := l.CreateTable(0, len(t))
		for k, item := range t {
			tb.RawSetH(lua.LString(k), toLua(l, item))
		}
		return tb
	default:
		return lua.LNil
	}
}

var errMixedTable = errors.New("a table with both string and number keys, or a sparse list, cannot be encoded")

// fromLua turns a Lua value back into JSON-like Go values by the rules of the JSON encoder Argo
// CD uses: an empty table is an empty list, a table keyed 1..n a list, one keyed by strings an
// object; numbers are float64. It refuses what that encoder refuses (functions, mixed keys, a table
// reached twice).
func fromLua(v lua.LValue) (any, error) {
	return fromLuaSeen(v, map[*lua.LTable]bool{})
}

func fromLuaSeen(v lua.LValue, seen map[*lua.LTable]bool) (any, error) {
	switch t := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(t), nil
	case lua.LNumber:
		return float64(t), nil
	case lua.LString:
		return string(t), nil
	case *lua.LTable:
		if seen[t] {
			return nil, errors.New("a table is reached twice (a nested or shared table)")
		}
		seen[t] = true
		first, _ := t.Next(lua.LNil)
		switch first.Type() {
		case lua.LTNil:
			return []any{}, nil
		case lua.LTNumber:
			list := []any{}
			var err error
			t.ForEach(func(k, item lua.LValue) {
				if err != nil {
					return
				}
				n, ok := k.(lua.LNumber)
				if !ok || int(n) != len(list)+1 {
					err = errMixedTable
					return
				}
				var x any
				x, err = fromLuaSeen(item, seen)
				list = append(list, x)
			})
			return list, err
		default:
			m := map[string]any{}
			var err error
			t.ForEach(func(k, item lua.LValue) {
				if err != nil {
					return
				}
				s, ok := k.(lua.LString)
				if !ok {
					err = errMixedTable
					return
				}
				m[string(s)], err = fromLuaSeen(item, seen)
			})
			return m, err
		}
	default:
		return nil, fmt.Errorf("cannot encode a Lua %s", v.Type())
	}
}

// keepObjects undoes, as Argo CD's cleanReturnedObj does, the encoder's turning of an empty table
// into an empty list where the object had an object.
func keepObjects(out, was map[string]any) map[string]any {
	for k, before := range was {
		switch now := out[k].(type) {
		case map[string]any:
			if b, ok := before.(map[string]any); ok {
				out[k] = keepObjects(now, b)
			}
		case []any:
			switch b := before.(type) {
			case map[string]any:
				if len(now) == 0 {
					out[k] = map[string]any{}
				}
			case []any:
				for i := range now {
					if i >= len(b) {
						break
					}
					nm, ok1 := now[i].(map[string]any)
					bm, ok2 := b[i].(map[string]any)
					if ok1 && ok2 {
						now[i] = keepObjects(nm, bm)
					}
				}
			}
		}
	}
	return out
}
