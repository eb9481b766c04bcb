package argocd

import (
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// safeOS is the loader of require("os") in Argo CD's scripts: os.time and os.date only (no exit,
// no files, no environment), on the given clock.
func safeOS(now func() time.Time) lua.LGFunction {
	return func(l *lua.LState) int {
		mod := l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{
			"time": func(l *lua.LState) int { return osTime(l, now) },
			"date": func(l *lua.LState) int { return osDate(l, now) },
		})
		l.Push(mod)
		return 1
	}
}

// osTime is os.time(): now in Unix seconds, or those of a table {year, month, day, hour, min, sec}
// read in the clock's location (hour 12 when unset, as in Lua).
func osTime(l *lua.LState, now func() time.Time) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(now().Unix()))
		return 1
	}
	tb := l.CheckTable(1)
	field := func(name string, def int) int {
		if n, ok := tb.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return def
	}
	t := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1),
		field("hour", 12), field("min", 0), field("sec", 0), 0, now().Location())
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

// osDate is os.date([format [, time]]): a leading "!" formats in UTC, "*t" returns a table, and
// the format takes the strftime flags of Argo CD's subset.
func osDate(l *lua.LState, now func() time.Time) int {
	t := now()
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
		if strings.HasPrefix(format, "!") {
			t = t.UTC()
			format = strings.TrimLeft(format, "!")
		}
		if l.GetTop() >= 2 {
			t = time.Unix(l.CheckInt64(2), 0).In(now().Location())
		}
		if strings.HasPrefix(format, "*t") {
			tb := l.NewTable()
			for k, v := range map[string]int{"year": t.Year(), "month": int(t.Month()), "day": t.Day(),
				"hour": t.Hour(), "min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": 0} {
				tb.RawSetString(k, lua.LNumber(v))
			}
			tb.RawSetString("isdst", lua.LFalse)
			l.Push(tb)
			return 1
		}
	}
	l.Push(lua.LString(strftime(t, format)))
	return 1
}

// strftimeLayouts are the flags Argo CD's os.date knows, as Go layouts. %a is "mon" there, which
// Go prints as it is; it is kept so, to behave as Argo CD does.
var strftimeLayouts = map[byte]string{
	'a': "mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST", 'd': "02",
	'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM", 'P': "pm", 'S': "05",
	'x': "15/04/05", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

// strftime formats t: "%%" is a percent sign, %w the weekday (0 is Sunday), and an unknown flag
// or a "%" at the end is left as it is.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i == len(format)-1 {
			b.WriteByte('%')
			break
		}
		i++
		flag := format[i]
		switch layout, ok := strftimeLayouts[flag]; {
		case flag == '%':
			b.WriteByte('%')
		case ok:
			b.WriteString(t.Format(layout))
		case flag == 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		default:
			b.WriteByte('%')
			b.WriteByte(flag)
		}
	}
	return b.String()
}
