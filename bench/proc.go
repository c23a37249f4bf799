//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// cpuTime is the user plus system CPU time pid has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time of %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: fields are counted from
	// the closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat utime/stime", pid)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// rss is pid's resident set size in bytes (VmRSS).
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// machine describes this computer for the report.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					mem = fmt.Sprintf(", %.1f GiB memory", float64(kb)/(1<<20))
				}
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			load = ", load average " + strings.Join(f[:3], " ") + " at start"
		}
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s%s", nprocs(), cpu, mem, load)
}

// counters are what /proc says a process has done so far.
type counters struct {
	cpu time.Duration
	// syscalls is syscr+syscw from /proc/PID/io: the read- and write-class
	// system calls (read, recvfrom, write, sendto, …), not epoll_wait or
	// futex. Cheap to read, and no ptrace slows the process down.
	syscalls int64
	// switches is voluntary plus nonvoluntary context switches summed over
	// /proc/PID/task/*: each is a wake-up of a thread. A thread that exits
	// between two readings takes its count along; Go's threads rarely exit.
	switches int64
}

func (c counters) sub(o counters) counters {
	return counters{cpu: c.cpu - o.cpu, syscalls: c.syscalls - o.syscalls, switches: c.switches - o.switches}
}

func (c counters) add(o counters) counters {
	return counters{cpu: c.cpu + o.cpu, syscalls: c.syscalls + o.syscalls, switches: c.switches + o.switches}
}

// readCounters reads pid's counters.
func readCounters(pid int) (counters, error) {
	var c counters
	var err error
	if c.cpu, err = cpuTime(pid); err != nil {
		return c, err
	}
	if c.syscalls, err = syscallCount(pid); err != nil {
		return c, err
	}
	c.switches, err = contextSwitches(pid)
	return c, err
}

// syscallCount is syscr+syscw from /proc/PID/io.
func syscallCount(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, fmt.Errorf("read system calls of %d: %w", pid, err)
	}
	var n int64
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "syscr" || k == "syscw") {
			c, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse /proc/%d/io %s: %w", pid, k, err)
			}
			n += c
		}
	}
	return n, nil
}

// contextSwitches sums voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches over pid's threads (/proc/PID/status counts
// the main thread's only).
func contextSwitches(pid int) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, fmt.Errorf("list threads of %d: %w", pid, err)
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread exited since the listing
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				c, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("parse /proc/%d/task/%s/status %s: %w", pid, t.Name(), k, err)
				}
				n += c
			}
		}
	}
	return n, nil
}
