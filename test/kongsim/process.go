package kongsim

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// respawnInterval is Kong's pluginserver_timer pacing: a new process no
// sooner than one second after the previous spawn, with no limit.
const respawnInterval = time.Second

// maxOutputLines bounds the captured plugin output kept in memory.
const maxOutputLines = 20000

// outputDrainLimit bounds the wait for an exited process's last output
// lines (a child it left behind could hold the pipe open).
const outputDrainLimit = 2 * time.Second

// process runs `<binary> -kong-prefix <prefix>` the way Kong's worker 0 does:
// stdout and stderr merged, every line prefixed "[<name>:<pid>] ", respawned
// when it dies, SIGTERM on stop.
type process struct {
	binary, prefix, name string
	out                  io.Writer // optional copy of the output
	log                  *slog.Logger
	exited               func() // called each time the process has exited

	outMu     sync.Mutex // serializes writes to out across respawns
	mu        sync.Mutex
	cmd       *exec.Cmd
	lines     []string
	dropped   int
	spawns    int
	stopping  bool
	spawnedCh chan struct{} // closed and replaced on every spawn
	captured  chan struct{} // closed once the current process's output is read to its end
	done      chan struct{} // closed when the supervisor loop ends
}

func startProcess(binary, prefix, name string, out io.Writer, log *slog.Logger, exited func()) (*process, error) {
	p := &process{binary: binary, prefix: prefix, name: name, out: out, log: log, exited: exited,
		spawnedCh: make(chan struct{}), done: make(chan struct{})}
	cmd, err := p.spawn()
	if err != nil {
		return nil, err
	}
	go p.supervise(cmd)
	return p, nil
}

func (p *process) spawn() (*exec.Cmd, error) {
	cmd := exec.Command(p.binary, "-kong-prefix", p.prefix)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	// Its own process group, so a Ctrl-C aimed at the gateway reaches the
	// plugin only through our SIGTERM, as with Kong.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", p.binary, err)
	}
	pw.Close()
	pid := cmd.Process.Pid
	p.log.Info("[pluginserver] started", "plugin", p.name, "pid", pid)
	captured := make(chan struct{})
	go func() {
		defer close(captured)
		p.capture(pr, fmt.Sprintf("[%s:%d] ", p.name, pid))
	}()
	p.mu.Lock()
	p.captured = captured
	if p.stopping {
		// stop() ran while this spawn was under way and signalled the old one.
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	p.cmd = cmd
	p.spawns++
	close(p.spawnedCh)
	p.spawnedCh = make(chan struct{})
	p.mu.Unlock()
	return cmd, nil
}

func (p *process) capture(r io.ReadCloser, prefix string) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := prefix + sc.Text()
		p.mu.Lock()
		p.lines = append(p.lines, line)
		if len(p.lines) > maxOutputLines {
			n := len(p.lines) - maxOutputLines
			p.lines = append(p.lines[:0:0], p.lines[n:]...)
			p.dropped += n
		}
		out := p.out
		p.mu.Unlock()
		if out != nil {
			p.outMu.Lock()
			fmt.Fprintln(out, line)
			p.outMu.Unlock()
		}
	}
}

func (p *process) supervise(cmd *exec.Cmd) {
	defer close(p.done)
	for {
		spawnedAt := time.Now()
		err := cmd.Wait()
		p.exited()
		p.mu.Lock()
		stopping, captured := p.stopping, p.captured
		p.mu.Unlock()
		// The exit does not wait for the output pipe: read its last lines
		// (the plugin's shutdown report) before anyone is told it ended.
		select {
		case <-captured:
		case <-time.After(outputDrainLimit):
		}
		if stopping {
			return
		}
		p.log.Warn("[pluginserver] plugin server exited; respawning", "plugin", p.name,
			"pid", cmd.Process.Pid, "status", exitStatus(err))
		if wait := time.Until(spawnedAt.Add(respawnInterval)); wait > 0 {
			time.Sleep(wait)
		}
		for {
			p.mu.Lock()
			stopping = p.stopping
			p.mu.Unlock()
			if stopping {
				return
			}
			next, err := p.spawn()
			if err == nil {
				cmd = next
				break
			}
			p.log.Error("[pluginserver] respawn failed", "plugin", p.name, "err", err)
			time.Sleep(respawnInterval)
		}
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// pid is the current process id, or 0 before the first spawn.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *process) signal(sig os.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("no plugin process")
	}
	return cmd.Process.Signal(sig)
}

func (p *process) spawnCount() (int, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spawns, p.spawnedCh
}

func (p *process) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *process) outputContains(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// stop sends SIGTERM (Kong's stop and reload signal) and waits up to grace
// for the process to end, then kills it; it returns once the output is read.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	p.stopping = true
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		<-p.done
	}
}
