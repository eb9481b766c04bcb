// Package proc reads what the benchmarks need of a Linux process from /proc: its CPU time, its
// command name and its parent.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// stat reads /proc/PID/stat: the command name (field 2, which may hold spaces and parentheses) and
// the fields after it (state, ppid, …).
func stat(pid int) (string, []string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", nil, err
	}
	open, closing := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || closing < open {
		return "", nil, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	return string(data[open+1 : closing]), strings.Fields(string(data[closing+1:])), nil
}

// CPUSeconds is the user and system CPU time the process has used.
func CPUSeconds(pid int) (float64, error) {
	_, fields, err := stat(pid)
	if err != nil {
		return 0, err
	}
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(fields[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	return (utime + stime) / clockTicks, nil
}

// Children returns the processes whose parent is this process, by command name.
func Children() map[string][]int {
	out := map[string][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, fields, err := stat(pid)
		if err != nil || len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil && ppid == os.Getpid() {
			out[name] = append(out[name], pid)
		}
	}
	return out
}
