// Command perfsplit splits a plugin server's CPU time by what it was doing,
// from the call stacks of `perf record -g`: go-pdk and the plugin socket,
// the plugin's PDK calls, the log path, the export pipeline, the exporter
// and its HTTP client, the Go scheduler, the garbage collector. Each part is
// split into user and kernel time (a stack whose leaf is in the kernel).
// BENCHMARKS.md shows its output for trace-exporter and the empty plugin
// measured in one run:
//
//	perf record -F 1999 -g -a -o perf.data -- go test -run '^$' \
//	    -bench 'PluginServer/(trace-exporter|trace-exporter-discard|empty)$' -benchtime 100000x ./test/bench
//	perf script -i perf.data -F comm,pid,tid,time,ip,sym,dso | \
//	    go run ./test/bench/perfsplit -freq 1999 -events 100000 -comm trace-exporter,empty
//
// Processes are told apart by pid, in the order they ran; a process's
// samples are converted to µs per event (1/freq s per sample, divided by
// -events).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The parts, each recognised by a frame of its code. The nearest such frame
// to the leaf owns the sample; garbage collection wins wherever it appears.
var owners = []struct{ frame, part string }{
	{"trace-exporter/plugin.socketCaller", "plugin's PDK calls"},
	{"trace-exporter/plugin.readFrame", "plugin's PDK calls"},
	{"trace-exporter/plugin.", "log path"},
	{"trace-exporter/exporter/internal/otlpenc", "exporter"},
	{"trace-exporter/exporter/otlphttp", "exporter"},
	{"trace-exporter/exporter.(*HTTPSender", "exporter"},
	{"trace-exporter/exporter.(*sendTimeoutConn", "exporter"},
	{"net/http.", "exporter"},
	{"trace-exporter/exporter/internal/queue", "pipeline"},
	{"trace-exporter/exporter.", "pipeline"},
	{"go-pdk", "go-pdk and socket"},
	{"encoding/binary", "go-pdk and socket"},
	{"google.golang.org/protobuf", "go-pdk and socket"},
	{"runtime.mallocgc", "allocation"},
	{"runtime.newobject", "allocation"},
	{"runtime.growslice", "allocation"},
	{"runtime.makeslice", "allocation"},
	{"runtime.schedule", "Go scheduler"},
	{"runtime.findRunnable", "Go scheduler"},
	{"runtime.mcall", "Go scheduler"},
	{"runtime.park_m", "Go scheduler"},
	{"runtime.sysmon", "Go scheduler"},
	{"runtime.mstart", "Go scheduler"},
	{"runtime.goexit0", "Go scheduler"},
}

var gcFrames = []string{"gcBgMarkWorker", "gcDrain", "markroot", "scanobject", "bgsweep", "gcStart", "bgscavenge", "gcAssist", "gcMark", "runtime.sweepone", "wbBuf", "gcWriteBarrier"}

// partOrder is the table's row order.
var partOrder = []string{"go-pdk and socket", "plugin's PDK calls", "log path", "allocation", "pipeline", "exporter", "Go scheduler", "garbage collector", "other"}

type frame struct {
	sym    string
	kernel bool
}

func classify(stack []frame) (part string, kernel bool) {
	kernel = len(stack) > 0 && stack[0].kernel
	inPlugin := false
	for _, f := range stack {
		for _, g := range gcFrames {
			if strings.Contains(f.sym, g) {
				return "garbage collector", kernel
			}
		}
		inPlugin = inPlugin || strings.Contains(f.sym, "trace-exporter/plugin.")
	}
	for _, f := range stack {
		if f.kernel {
			continue
		}
		for _, o := range owners {
			if strings.Contains(f.sym, o.frame) {
				switch {
				case o.part == "go-pdk and socket" && inPlugin:
					return "plugin's PDK calls", kernel
				case o.part == "allocation" && inPlugin:
					return "log path", kernel
				}
				return o.part, kernel
			}
		}
	}
	return "other", kernel
}

type process struct {
	name    string
	samples int
	user    map[string]int
	kernel  map[string]int
}

func main() {
	freq := flag.Float64("freq", 1999, "perf record's -F sampling frequency")
	events := flag.Float64("events", 100000, "events each process served")
	comms := flag.String("comm", "trace-exporter,empty", "process names to report")
	flag.Parse()
	procs, order, err := read(os.Stdin, strings.Split(*comms, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "perfsplit:", err)
		os.Exit(1)
	}
	perSample := 1e6 / *freq / *events // µs per event per sample
	var shown []*process
	total := 0
	for _, k := range order {
		total += procs[k].samples
	}
	for _, k := range order {
		if p := procs[k]; p.samples*100 >= total {
			shown = append(shown, p)
		}
	}
	fmt.Print("| µs per event (user + kernel) |")
	for _, p := range shown {
		fmt.Printf(" %s |", p.name)
	}
	fmt.Print("\n|---|" + strings.Repeat("---|", len(shown)) + "\n")
	for _, part := range partOrder {
		fmt.Printf("| %s |", part)
		for _, p := range shown {
			u, k := float64(p.user[part])*perSample, float64(p.kernel[part])*perSample
			fmt.Printf(" %.1f (%.1f + %.1f) |", u+k, u, k)
		}
		fmt.Println()
	}
	fmt.Print("| **total** |")
	for _, p := range shown {
		fmt.Printf(" **%.1f** |", float64(p.samples)*perSample)
	}
	fmt.Println()
}

// read parses perf script output: a header line per sample ("comm pid/tid
// time: ..."), its stack one frame per indented line ("addr sym+off (dso)"),
// a blank line.
func read(r io.Reader, comms []string) (map[string]*process, []string, error) {
	procs := map[string]*process{}
	var order []string
	var cur *process
	var stack []frame
	flush := func() {
		if cur != nil && len(stack) > 0 {
			part, kernel := classify(stack)
			cur.samples++
			if kernel {
				cur.kernel[part]++
			} else {
				cur.user[part]++
			}
		}
		cur, stack = nil, stack[:0]
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] != ' ' && line[0] != '\t':
			flush()
			f := strings.Fields(line)
			if len(f) < 2 || !slices.Contains(comms, f[0]) {
				continue
			}
			pid, _, _ := strings.Cut(f[1], "/")
			key := f[0] + "/" + pid
			if procs[key] == nil {
				procs[key] = &process{name: fmt.Sprintf("%s (pid %s)", f[0], pid), user: map[string]int{}, kernel: map[string]int{}}
				order = append(order, key)
			}
			cur = procs[key]
		case cur != nil:
			// "    addr sym+off (dso)"
			f := strings.TrimSpace(line)
			_, rest, _ := strings.Cut(f, " ")
			open := strings.LastIndex(rest, " (")
			if open < 0 {
				continue
			}
			sym, dso := rest[:open], rest[open+2:]
			if plus := strings.LastIndex(sym, "+0x"); plus > 0 {
				sym = sym[:plus]
			}
			stack = append(stack, frame{sym: sym, kernel: strings.Contains(dso, "kernel")})
		}
	}
	flush()
	return procs, order, sc.Err()
}
