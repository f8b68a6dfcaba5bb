package kongsim

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

func newSim(t testing.TB, version string) *Sim {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, Options{Binary: probeBinary(t), KongVersion: version, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The StartInstance payload carries Kong's extra keys in Kong's formats,
// with cjson's "\/" escaping; go-pdk uses __seq__ as the instance id.
func TestStartInstancePayload(t *testing.T) {
	for _, version := range []string{"3.6", "3.9"} {
		s := newSim(t, version)
		p1, err := s.Configure(PluginEntity{Config: map[string]any{"mode": "plain", "tag": "a/b"},
			RouteID: "r-1", ServiceID: "s-1", InstanceName: "inst"})
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := s.Configure(PluginEntity{ID: "global-id", Config: map[string]any{"mode": "plain"}})
		if p1.Seq != 1 || p2.Seq != 2 {
			t.Errorf("__seq__ %d, %d: want a global counter from 1", p1.Seq, p2.Seq)
		}
		raw := string(p1.ConfigJSON())
		if !strings.Contains(raw, `"tag":"a\/b"`) {
			t.Errorf("config not cjson-escaped: %s", raw)
		}
		var conf map[string]any
		if err := json.Unmarshal(p1.ConfigJSON(), &conf); err != nil {
			t.Fatal(err)
		}
		wantKey := "plugins:kongsim-probe:r-1:s-1:::" + s.WorkspaceID()
		if conf["__key__"] != wantKey || conf["__seq__"] != 1.0 || conf["route_id"] != "r-1" ||
			conf["service_id"] != "s-1" || conf["plugin_instance_name"] != "inst" || conf["__plugin_id"] != p1.ID {
			t.Errorf("%s payload %s", version, raw)
		}
		if _, ok := conf["consumer_id"]; ok {
			t.Error("consumer_id must be absent when unscoped")
		}
		if _, ok := conf["__ws_id"]; ok != (version == "3.9") {
			t.Errorf("%s: __ws_id present = %v", version, ok)
		}
		if _, ok := conf["limit"]; ok {
			t.Error("unset fields must be absent, not null")
		}
		id, err := s.instanceID(p1)
		if err != nil || id != 1 {
			t.Errorf("instance id %d, %v: go-pdk uses __seq__", id, err)
		}
	}
}

// A fake plugin side on a real unix socket checks the sequence numbers and
// the connection pooling: 2, 3, 4, ... per Rpc object, one RPC at a time
// per connection, connections reused after a complete exchange.
func TestRPCSequencesAndPooling(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "fake.socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var seqs []int64
	conns := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			mu.Unlock()
			go func(c net.Conn) {
				fc := newFrameConn(c)
				defer fc.Close()
				for {
					data, err := fc.readFrame()
					if err != nil {
						return
					}
					var call pb.RpcCall
					if proto.Unmarshal(data, &call) != nil {
						return
					}
					mu.Lock()
					seqs = append(seqs, call.Sequence)
					mu.Unlock()
					if ev := call.GetCmdHandleEvent(); ev != nil {
						// One PDK call, then the end of the event.
						fc.writeFrame([]byte("kong.node.get_id"))
						fc.writeFrame(nil)
						if _, err := fc.readFrame(); err != nil {
							return
						}
						fc.writeFrame(nil)
					}
					ret, _ := proto.Marshal(&pb.RpcReturn{Sequence: call.Sequence,
						Return: &pb.RpcReturn_InstanceStatus{InstanceStatus: &pb.InstanceStatus{InstanceId: 7}}})
					fc.writeFrame(ret)
				}
			}(c)
		}
	}()
	c := &rpcClient{socket: sock}
	id, err := c.startInstance("fake", []byte(`{}`))
	if err != nil || id != 7 {
		t.Fatalf("startInstance: %d %v", id, err)
	}
	var calls []string
	for i := 0; i < 3; i++ {
		err := c.handleEvent(7, "log", func(method string, args []byte) ([]byte, pdkAction) {
			calls = append(calls, method)
			return encodeString("node"), pdkReply
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) != 4 || seqs[0] != 2 || seqs[1] != 3 || seqs[2] != 4 || seqs[3] != 5 {
		t.Errorf("sequences %v, want [2 3 4 5]", seqs)
	}
	if conns != 1 {
		t.Errorf("%d connections for sequential RPCs, want 1 reused", conns)
	}
	if len(calls) != 3 || calls[0] != "kong.node.get_id" {
		t.Errorf("PDK calls %v", calls)
	}
}

// The plugin server forgetting an instance ("no plugin instance", as after
// go-pdk's expiry) closes the connection: Kong resets and retries the event
// with a fresh StartInstance.
func TestLostInstanceIsRestartedAndEventRetried(t *testing.T) {
	s := newSim(t, "3.9")
	p, _ := s.Configure(PluginEntity{Config: map[string]any{"mode": "plain"}})
	data := &LogData{Serialize: []byte(`{"request":{}}`)}
	if res := s.RunLog(p, data); res.Attempts != 1 || res.Err != nil {
		t.Fatalf("first event: %+v", res)
	}
	id, _ := s.instanceID(p)
	if err := s.rpc.closeInstance(id); err != nil { // behind the emulator's back
		t.Fatal(err)
	}
	res := s.RunLog(p, data)
	if res.Err != nil || res.Attempts != 2 || !equalStrings(res.Calls, []string{"kong.log.serialize"}) {
		t.Errorf("after lost instance: %+v", res)
	}
}

// When the plugin server exits, its pooled connections are dropped (nginx's
// keepalive pool drops a connection its peer closed), so the first event on
// the respawned server finds no dead connection: the lost instance costs
// one retry, never a "starting instance: closed" error on a stale socket.
func TestIdleConnectionsOfAnExitedServerAreDropped(t *testing.T) {
	s := newSim(t, "3.9")
	p, _ := s.Configure(PluginEntity{Config: map[string]any{"mode": "plain"}})
	data := &LogData{Serialize: []byte(`{"request":{}}`)}
	if res := s.RunLog(p, data); res.Err != nil {
		t.Fatalf("first event: %+v", res)
	}
	// Several idle connections, as concurrent requests leave behind.
	var conns []*frameConn
	for range 4 {
		fc, err := s.rpc.get()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, fc)
	}
	for _, fc := range conns {
		s.rpc.put(fc)
	}
	_, respawned := s.Spawns()
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-respawned:
	case <-time.After(10 * time.Second):
		t.Fatal("plugin server not respawned")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	res := s.RunLog(p, data)
	if res.Err != nil || res.Attempts != 2 || !equalStrings(res.Calls, []string{"kong.log.serialize"}) {
		t.Errorf("first event after the restart: %+v (want one retry for the lost instance, then success)", res)
	}
}

// RunLog drives log events directly, concurrently, without HTTP.
func TestRunLogDirectConcurrent(t *testing.T) {
	s := newSim(t, "3.9")
	plain, _ := s.Configure(PluginEntity{Config: map[string]any{"mode": "plain"}})
	forbidden, _ := s.Configure(PluginEntity{ID: "f", Config: map[string]any{"mode": "forbidden"}})
	payload := []byte(`{"request":{"method":"GET"}}`)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.RunLog(plain, &LogData{Serialize: payload})
			if res.Err != nil || len(res.Violations) != 0 || !equalStrings(res.Calls, []string{"kong.log.serialize"}) {
				errs <- res.Phase
			}
		}()
	}
	wg.Wait()
	close(errs)
	if n := len(errs); n != 0 {
		t.Errorf("%d of 32 concurrent log events failed", n)
	}
	res := s.RunLog(forbidden, &LogData{Serialize: payload})
	if len(res.Violations) != 1 || res.Violations[0].Method != "kong.request.get_path" {
		t.Errorf("forbidden: %+v", res)
	}
	// Access from a hand-built exchange works the same way.
	x := &Exchange{Headers: map[string][]string{"X-Probe": {"direct"}}, ResponseHeaders: map[string][]string{},
		Shared: map[string]any{}, Ctx: map[string]any{}}
	count, _ := s.Configure(PluginEntity{ID: "c", Config: map[string]any{"mode": "count"}})
	res = s.RunPhase(count, "access", x)
	if len(res.Calls) != 3 || x.Headers.Get("X-Probe-Seen") != "direct" || len(x.serializeValues) != 1 {
		t.Errorf("direct access: %+v headers %v", res, x.Headers)
	}
}

func BenchmarkRunLog(b *testing.B) {
	s := newSim(b, "3.9")
	p, _ := s.Configure(PluginEntity{Config: map[string]any{"mode": "plain"}})
	payload := benchmarkPayload(b)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := s.RunLog(p, &LogData{Serialize: payload}); res.Err != nil || len(res.Calls) != 1 {
			b.Fatalf("%+v", res)
		}
	}
}

func BenchmarkRunLogParallel(b *testing.B) {
	s := newSim(b, "3.9")
	p, _ := s.Configure(PluginEntity{Config: map[string]any{"mode": "plain"}})
	payload := benchmarkPayload(b)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := s.RunLog(p, &LogData{Serialize: payload}); res.Err != nil {
				b.Error(res.Err)
				return
			}
		}
	})
}

// benchmarkPayload is a Kong 3.9 serialize text from a real gateway run.
func benchmarkPayload(b *testing.B) []byte {
	r := mustRequest("GET", "http://localhost:8000/echo/items?id=42", map[string]string{
		"User-Agent": "bench/1.0", "Accept": "*/*", "Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	x := NewExchange(r, nil, 8000)
	svc := &Service{ID: entityID("service", "echo"), Name: "echo", Protocol: "http", Host: "127.0.0.1", Port: 9000,
		Retries: 5, ConnectTimeout: 60000, WriteTimeout: 60000, ReadTimeout: 60000}
	x.Route = &Route{ID: entityID("route", "r"), Name: "echo-route", Paths: []string{"/echo"},
		Protocols: []string{"http", "https"}, StripPath: true, Service: svc}
	x.Service = svc
	x.Status, x.UpstreamStatus, x.Proxied = 200, "200", true
	x.Tries = []Try{{IP: "127.0.0.1", Port: 9000, BalancerStart: time.Now(), BalancerLatencyNS: 20000}}
	x.ResponseHeaders.Set("Content-Type", "application/json")
	x.setCtx("KONG_LOG_START", msOf(time.Now()))
	out, err := EncodeLuaJSON(x.Serialize(DefaultVersion), 16)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkGatewayRequest measures whole requests through the gateway:
// HTTP in, access event, proxy to a loopback upstream, response, log event.
func BenchmarkGatewayRequest(b *testing.B) {
	up := newUpstream(b, 200)
	gw := startGateway(b, "3.9", serviceYAML(up.URL, "plain"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(gw.URL() + "/echo")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := gw.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	if v := gw.Violations(); len(v) != 0 {
		b.Fatalf("violations: %v", v[0])
	}
}
