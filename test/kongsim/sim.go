package kongsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Sim.
type Options struct {
	// Binary is the go-pdk plugin executable. Its base name is the plugin
	// name (go-pdk derives both the name and the socket from it).
	Binary string
	// Prefix is the Kong prefix passed as -kong-prefix; the socket is
	// <Prefix>/<name>.socket. Empty: a fresh temporary directory, removed by
	// Close. Keep it short: unix socket paths are limited to 107 bytes.
	Prefix string
	// KongVersion selects the emulated release, "3.3" to "3.16" (default 3.9; 3.10+ behave as 3.9).
	KongVersion string
	// Output, if set, receives a copy of every plugin output line.
	Output io.Writer
	// Logger receives the emulator's own messages, as Kong's error.log would
	// (plugin kong.log.* calls included). Default: slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds waiting for the plugin socket. Default 15 s.
	StartTimeout time.Duration
	// MaxEventAttempts bounds Kong's reset-and-retry of an event whose
	// connection closed. Kong has no bound; the emulator stops after this
	// many attempts (default 5) so a broken plugin cannot loop a test.
	MaxEventAttempts int
	// LookupEnv is the environment Kong's env vault reads {vault://env/NAME}
	// references from. Default: the emulator's own (os.LookupEnv).
	LookupEnv func(string) (string, bool)
}

// Sim runs one go-pdk plugin server as Kong 3.x does and drives its
// instances and events. It is safe for concurrent use: events run on
// separate pooled connections, as Kong's requests do.
type Sim struct {
	version     Version
	info        PluginInfo
	prefix      string
	ownPrefix   bool
	proc        *process
	rpc         *rpcClient
	log         *slog.Logger
	nodeID      string
	workspace   string
	maxAttempts int
	lookupEnv   func(string) (string, bool)

	seq atomic.Int64 // __seq__, global and increasing from 1 (Kong 3.6+)

	instMu    sync.Mutex
	instances map[string]*instanceSlot // by plugin entity id

	consumersMu sync.RWMutex
	consumers   []*Consumer

	closeOnce sync.Once
}

// New queries the plugin (-dump), spawns its server with -kong-prefix and
// waits until its socket accepts connections.
func New(ctx context.Context, opts Options) (*Sim, error) {
	if opts.Binary == "" {
		return nil, errors.New("kongsim: Options.Binary is required")
	}
	version, err := ParseVersion(opts.KongVersion)
	if err != nil {
		return nil, err
	}
	s := &Sim{version: version, log: opts.Logger, maxAttempts: opts.MaxEventAttempts,
		instances: map[string]*instanceSlot{}, prefix: opts.Prefix, lookupEnv: opts.LookupEnv}
	if s.lookupEnv == nil {
		s.lookupEnv = os.LookupEnv
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = 5
	}
	if s.prefix == "" {
		if s.prefix, err = os.MkdirTemp("", "kongsim-"); err != nil {
			return nil, err
		}
		s.ownPrefix = true
	}
	s.nodeID = entityID("node", s.prefix)
	s.workspace = entityID("workspace", "default")
	if s.info, err = QueryPlugin(ctx, opts.Binary, s.prefix); err != nil {
		s.removePrefix()
		return nil, err
	}
	socket := filepath.Join(s.prefix, s.info.Name+".socket")
	if len(socket) > 107 {
		s.removePrefix()
		return nil, fmt.Errorf("socket path %s is longer than 107 bytes", socket)
	}
	s.rpc = &rpcClient{socket: socket}
	if s.proc, err = startProcess(opts.Binary, s.prefix, s.info.Name, opts.Output, s.log, s.rpc.serverExited); err != nil {
		s.removePrefix()
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	if err := s.waitSocket(ctx, timeout); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sim) waitSocket(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("unix", s.rpc.socket, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("plugin socket %s not ready after %s: %w (output: %q)", s.rpc.socket, timeout, err, s.proc.output())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Sim) removePrefix() {
	if s.ownPrefix {
		_ = os.RemoveAll(s.prefix)
	}
}

// Close stops the plugin server with SIGTERM (SIGKILL after 5 s) and
// removes a temporary prefix. When it returns, Output holds every line the
// server wrote, its shutdown report included.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.proc.stop(5 * time.Second)
		s.rpc.closeIdle()
		s.removePrefix()
	})
	return nil
}

// Info is the plugin's -dump information.
func (s *Sim) Info() PluginInfo { return s.info }

// Version is the emulated Kong release.
func (s *Sim) Version() Version { return s.version }

// SocketPath is the plugin server's socket.
func (s *Sim) SocketPath() string { return s.rpc.socket }

// NodeID is what kong.node.get_id answers.
func (s *Sim) NodeID() string { return s.nodeID }

// WorkspaceID is the default workspace id (__ws_id, serialize workspace).
func (s *Sim) WorkspaceID() string { return s.workspace }

// Output returns the plugin's captured output lines so far, each prefixed
// "[<name>:<pid>] " as Kong logs them.
func (s *Sim) Output() []string { return s.proc.output() }

// OutputContains reports whether any captured output line contains sub.
func (s *Sim) OutputContains(sub string) bool { return s.proc.outputContains(sub) }

// WaitOutput waits until a captured output line contains sub, or timeout
// passes. Output is read asynchronously from the plugin's pipe, so a line
// the plugin printed just before an event ended may not be captured yet.
func (s *Sim) WaitOutput(sub string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !s.OutputContains(sub) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// PID is the current plugin server process id.
func (s *Sim) PID() int { return s.proc.pid() }

// Signal sends sig to the current plugin server process (fault tests).
func (s *Sim) Signal(sig os.Signal) error { return s.proc.signal(sig) }

// Spawns reports how many times the server was started, and a channel
// closed at the next spawn.
func (s *Sim) Spawns() (int, <-chan struct{}) { return s.proc.spawnCount() }

// WaitReady waits until the plugin socket accepts connections again (after
// a crash and respawn).
func (s *Sim) WaitReady(ctx context.Context) error {
	return s.waitSocket(ctx, 30*time.Second)
}

// SetConsumers registers the consumers kong.client.load_consumer can find.
func (s *Sim) SetConsumers(cs []*Consumer) {
	s.consumersMu.Lock()
	s.consumers = cs
	s.consumersMu.Unlock()
}

func (s *Sim) findConsumer(key string, byUsername bool) *Consumer {
	s.consumersMu.RLock()
	defer s.consumersMu.RUnlock()
	for _, c := range s.consumers {
		if c.ID == key || (byUsername && c.Username == key) {
			return c
		}
	}
	return nil
}

// PluginEntity is a plugin entity as configured in Kong.
type PluginEntity struct {
	ID           string // generated from the scope when empty
	Name         string // must be the loaded plugin's name
	Config       map[string]any
	RouteID      string
	ServiceID    string
	ConsumerID   string
	InstanceName string
	// Protocols the entity runs on; empty: the schema's default.
	Protocols []string
	// Unchecked skips the schema check, to hand a plugin a config Kong would
	// have refused (for testing the plugin's own StartInstance validation).
	Unchecked bool
}

// Plugin is a configured plugin entity: its validated config and the
// StartInstance payload Kong would send for it. Reconfiguring an entity
// (Configure with the same ID) gives a new Plugin with a new __seq__; its
// first event starts a new instance and closes the old one.
type Plugin struct {
	ID, Name                       string
	RouteID, ServiceID, ConsumerID string
	Protocols                      []string
	Config                         map[string]any
	Seq                            int64
	configJSON                     []byte
}

// ConfigJSON is the exact StartInstance config payload.
func (p *Plugin) ConfigJSON() []byte { return p.configJSON }

// Global reports whether the entity has no route, service or consumer.
func (p *Plugin) Global() bool { return p.RouteID == "" && p.ServiceID == "" && p.ConsumerID == "" }

// Configure validates an entity's config and protocols against the dumped
// schema (unless Unchecked), resolves its vault references, and prepares its
// StartInstance payload: the config with Kong's extra keys, cjson-encoded.
func (s *Sim) Configure(e PluginEntity) (*Plugin, error) {
	return s.configurer().Configure(e)
}

func (s *Sim) configurer() *Configurer {
	return &Configurer{Name: s.info.Name, Schema: s.info.Schema, Version: s.version, Workspace: s.workspace,
		LookupEnv: s.lookupEnv, Logger: s.log, seq: &s.seq}
}

// instanceSlot is Kong's running_instances entry for one plugin entity.
type instanceSlot struct {
	seq   int64
	id    int32
	ready chan struct{} // closed once the start finished (id valid or slot gone)
	err   error
}

// instanceID returns the plugin server's instance id for p, starting it if
// needed (Kong's get_instance_id): a different __seq__ for the same entity
// starts a new instance and then closes the old one.
func (s *Sim) instanceID(p *Plugin) (int32, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.instMu.Lock()
		slot := s.instances[p.ID]
		if slot != nil {
			select {
			case <-slot.ready:
				if slot.err == nil && slot.seq == p.Seq {
					s.instMu.Unlock()
					return slot.id, nil
				}
			default:
				// Another request is starting it: wait, as Kong sleeps 0.1 s steps.
				s.instMu.Unlock()
				select {
				case <-slot.ready:
				case <-time.After(time.Until(deadline)):
					return 0, fmt.Errorf("Could not claim instance_id for %s (key: %s)", p.Name, p.ID)
				}
				continue
			}
		}
		var oldID int32
		if slot != nil && slot.err == nil {
			oldID = slot.id
		}
		claim := &instanceSlot{seq: p.Seq, ready: make(chan struct{})}
		s.instances[p.ID] = claim
		s.instMu.Unlock()

		id, err := s.rpc.startInstance(p.Name, p.configJSON)
		s.instMu.Lock()
		if err != nil {
			claim.err = err
			if s.instances[p.ID] == claim {
				delete(s.instances, p.ID)
			}
		} else {
			claim.id = id
		}
		close(claim.ready)
		s.instMu.Unlock()
		if err != nil {
			s.log.Error("starting instance: "+err.Error(), "plugin", p.Name)
			return 0, err
		}
		if oldID != 0 {
			_ = s.rpc.closeInstance(oldID) // Kong ignores the result
		}
		return id, nil
	}
}

// resetInstances forgets every instance (Kong's reset_instance): the next
// event starts them again. No CloseInstance is sent.
func (s *Sim) resetInstances() {
	s.instMu.Lock()
	for k, slot := range s.instances {
		select {
		case <-slot.ready:
			delete(s.instances, k)
		default: // being started right now; that start decides
		}
	}
	s.instMu.Unlock()
}

// CloseInstance sends CloseInstance for p's running instance, if any, and
// forgets it (used for instance-churn tests; Kong itself only closes an
// instance when replacing it).
func (s *Sim) CloseInstance(p *Plugin) error {
	s.instMu.Lock()
	slot := s.instances[p.ID]
	if slot == nil {
		s.instMu.Unlock()
		return nil
	}
	delete(s.instances, p.ID)
	s.instMu.Unlock()
	<-slot.ready
	if slot.err != nil {
		return nil
	}
	return s.rpc.closeInstance(slot.id)
}
