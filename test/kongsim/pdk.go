package kongsim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// EventResult is what one event (one phase of one plugin for one request)
// did, for budget and conformance assertions.
type EventResult struct {
	Phase string
	// Calls are the PDK method names in the order the plugin called them,
	// e.g. ["kong.log.serialize"].
	Calls []string
	// Violations are calls Kong would have failed (wrong phase, or not
	// available in the log timer); each closed the plugin's connection.
	Violations []Violation
	// Logs are the plugin's kong.log.* messages.
	Logs []LogEntry
	// Exit is set when the plugin called kong.response.exit.
	Exit *ExitResponse
	// Err is a Kong-side failure of the event (start failure, connect
	// failure, retries exhausted); in access it means a 500.
	Err error
	// Attempts counts HandleEvent tries: more than 1 after a reset-and-retry.
	Attempts int
}

// Violation is one PDK call that Kong fails with a Lua error.
type Violation struct {
	Phase  string
	Method string
	Reason string // Kong's error text, e.g. "API disabled in the current context"
}

func (v Violation) String() string { return v.Phase + ": " + v.Method + ": " + v.Reason }

// LogEntry is one kong.log.<level> call.
type LogEntry struct {
	Level   string
	Message string
}

const (
	reasonDisabled = "API disabled in the current context"
)

// pdkFailure is a PDK call Kong fails with a Lua error.
type pdkFailure struct{ reason string }

func (f *pdkFailure) Error() string { return f.reason }

func fail(format string, args ...any) error {
	return &pdkFailure{reason: fmt.Sprintf(format, args...)}
}

var errExit = errors.New("kong.response.exit")

// pdkState serves one event's PDK calls: live from an Exchange (rewrite,
// access, response), or from saved LogData in the log timer.
type pdkState struct {
	sim   *Sim
	phase string
	x     *Exchange
	saved *LogData
	res   *EventResult
}

// uriCaptures are the request's regex captures: saved for the log timer,
// live otherwise.
func (st *pdkState) uriCaptures() ([]string, map[string]string) {
	if st.saved != nil {
		return st.saved.URICaptures, st.saved.NamedCaptures
	}
	return st.x.URICaptures, st.x.NamedCaptures
}

func (st *pdkState) serve(method string, args []byte) (reply []byte, action pdkAction) {
	st.res.Calls = append(st.res.Calls, method)
	defer func() {
		// An emulator bug must not take the gateway down: fail the call as a
		// Lua error would.
		if r := recover(); r != nil {
			st.violation(method, fmt.Sprintf("emulator error: %v", r))
			reply, action = nil, pdkClose
		}
	}()
	h, ok := pdkMethods[method]
	if !ok {
		// call_pdk returns `method "<x>" not found`; Kong fails the event.
		st.violation(method, fmt.Sprintf("method %q not found", method))
		return nil, pdkClose
	}
	reply, err := h(st, args)
	if err == nil {
		return reply, pdkReply
	}
	if errors.Is(err, errExit) {
		return nil, pdkExit
	}
	st.violation(method, err.Error())
	return nil, pdkClose
}

func (st *pdkState) violation(method, reason string) {
	v := Violation{Phase: st.phase, Method: method, Reason: reason}
	st.res.Violations = append(st.res.Violations, v)
	st.sim.log.Error("plugin PDK call failed as in Kong", "plugin", st.sim.info.Name, "phase", st.phase,
		"method", method, "err", reason)
}

// live fails calls that need the live request when running in the log timer.
func (st *pdkState) live() error {
	if st.saved != nil {
		return fail(reasonDisabled)
	}
	return nil
}

// in fails calls whose PDK phase check does not allow the current phase.
func (st *pdkState) in(phases ...string) error {
	for _, p := range phases {
		if p == st.phase {
			return nil
		}
	}
	return fail("function cannot be called in %s phase", st.phase)
}

func decode(args []byte, m proto.Message) error {
	if err := proto.Unmarshal(args, m); err != nil {
		return fail("bad argument: %v", err)
	}
	return nil
}

func argString(args []byte) (string, error) {
	var m pb.String
	err := decode(args, &m)
	return m.V, err
}

func argInt(args []byte) (int, error) {
	var m pb.Int
	err := decode(args, &m)
	return int(m.V), err
}

func argKV(args []byte) (string, any, error) {
	var m pb.KV
	err := decode(args, &m)
	return m.K, luaValue(m.V), err
}

func argStruct(args []byte) (map[string]any, error) {
	var m structpb.Struct
	err := decode(args, &m)
	return luaStruct(&m), err
}

func replyString(s string) ([]byte, error) { return encodeString(s), nil }
func replyInt(n int) ([]byte, error)       { return encodeInt(int64(n)), nil }
func replyValue(v any) ([]byte, error)     { return appendValue(nil, v), nil }
func replyStruct(t any) ([]byte, error)    { return appendStruct(nil, t), nil }
func replyEmpty() ([]byte, error)          { return nil, nil }

// headerValues is Kong's validate_value for header setters: strings,
// numbers and booleans (arrays of them for set/add).
func headerValues(name string, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case float64, bool:
		return []string{luaToString(x)}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, err := headerValues(name, e)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	return nil, fail("invalid header value for %q: got %s, expected array of string, string, number or boolean", name, luaType(v))
}

func luaType(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "table"
}

func setHeaders(h http.Header, t map[string]any) error {
	for k, v := range t {
		vs, err := headerValues(k, v)
		if err != nil {
			return err
		}
		h.Del(k)
		for _, s := range vs {
			h.Add(k, s)
		}
	}
	return nil
}

type pdkFunc func(st *pdkState, args []byte) ([]byte, error)

// liveString answers a string the live request has; the log timer fails it.
func liveString(get func(x *Exchange) string) pdkFunc {
	return func(st *pdkState, _ []byte) ([]byte, error) {
		if err := st.live(); err != nil {
			return nil, err
		}
		return replyString(get(st.x))
	}
}

func liveInt(get func(x *Exchange) int) pdkFunc {
	return func(st *pdkState, _ []byte) ([]byte, error) {
		if err := st.live(); err != nil {
			return nil, err
		}
		return replyInt(get(st.x))
	}
}

// liveSetter is a kong.service.request.* or kong.response.* setter: allowed
// in the given live phases only (never in log).
func liveSetter(phases []string, set func(st *pdkState, args []byte) error) pdkFunc {
	return func(st *pdkState, args []byte) ([]byte, error) {
		if err := st.in(phases...); err != nil {
			return nil, err
		}
		if err := set(st, args); err != nil {
			return nil, err
		}
		return replyEmpty()
	}
}

var (
	rewriteAccess        = []string{"rewrite", "access"}
	rewriteAccessHeader  = []string{"rewrite", "access", "response"}
	accessOnly           = []string{"access"}
	serviceResponsePhase = []string{"response", "log"}
	logLevels            = []string{"alert", "crit", "err", "warn", "notice", "info", "debug"}
	validMethods         = map[string]bool{"GET": true, "HEAD": true, "PUT": true, "POST": true, "DELETE": true,
		"OPTIONS": true, "MKCOL": true, "COPY": true, "MOVE": true, "PROPFIND": true, "PROPPATCH": true,
		"LOCK": true, "UNLOCK": true, "PATCH": true, "TRACE": true}
)

var pdkMethods map[string]pdkFunc

// headerMethods are the set_header, add_header, clear_header and
// set_headers methods of one header table: the client response
// (kong.response) or the upstream request (kong.service.request).
func headerMethods(prefix string, phases []string, table func(st *pdkState) http.Header) map[string]pdkFunc {
	return map[string]pdkFunc{
		prefix + ".set_header": liveSetter(phases, func(st *pdkState, args []byte) error {
			k, v, err := argKV(args)
			if err != nil {
				return err
			}
			vs, err := headerValues(k, v)
			if err != nil {
				return err
			}
			h := table(st)
			h.Del(k)
			for _, s := range vs {
				h.Add(k, s)
			}
			return nil
		}),
		prefix + ".add_header": liveSetter(phases, func(st *pdkState, args []byte) error {
			k, v, err := argKV(args)
			if err != nil {
				return err
			}
			vs, err := headerValues(k, v)
			if err != nil {
				return err
			}
			h := table(st)
			for _, s := range vs {
				h.Add(k, s)
			}
			return nil
		}),
		prefix + ".clear_header": liveSetter(phases, func(st *pdkState, args []byte) error {
			k, err := argString(args)
			if err == nil {
				table(st).Del(k)
			}
			return err
		}),
		prefix + ".set_headers": liveSetter(phases, func(st *pdkState, args []byte) error {
			t, err := argStruct(args)
			if err != nil {
				return err
			}
			return setHeaders(table(st), t)
		}),
	}
}

// tableMethods are the set and get methods of a Lua table the plugin can
// write and read by key: kong.ctx.shared or ngx.ctx. Setting nil removes
// the key.
func tableMethods(set, get string, table func(st *pdkState) map[string]any) map[string]pdkFunc {
	return map[string]pdkFunc{
		set: func(st *pdkState, args []byte) ([]byte, error) {
			k, v, err := argKV(args)
			if err != nil {
				return nil, err
			}
			t := table(st)
			if v == nil {
				delete(t, k)
			} else {
				t[k] = v
			}
			return replyEmpty()
		},
		get: func(st *pdkState, args []byte) ([]byte, error) {
			k, err := argString(args)
			if err != nil {
				return nil, err
			}
			return replyValue(table(st)[k])
		},
	}
}

func init() {
	m := map[string]pdkFunc{
		"kong.client.get_ip":             liveString(func(x *Exchange) string { return x.ClientIP }),
		"kong.client.get_forwarded_ip":   liveString(func(x *Exchange) string { return x.ClientIP }),
		"kong.client.get_port":           liveInt(func(x *Exchange) int { return x.ClientPort }),
		"kong.client.get_forwarded_port": liveInt(func(x *Exchange) int { return x.ClientPort }),
		"kong.client.get_credential": func(st *pdkState, _ []byte) ([]byte, error) {
			if c := st.credential(); c != nil {
				return c.pb(), nil
			}
			return replyEmpty()
		},
		"kong.client.get_consumer": func(st *pdkState, _ []byte) ([]byte, error) {
			if c := st.consumer(); c != nil {
				return c.pb(), nil
			}
			return replyEmpty()
		},
		"kong.client.load_consumer": func(st *pdkState, args []byte) ([]byte, error) {
			var spec pb.ConsumerSpec
			if err := decode(args, &spec); err != nil {
				return nil, err
			}
			if c := st.sim.findConsumer(spec.Id, spec.ByUsername); c != nil {
				return c.pb(), nil
			}
			return replyEmpty()
		},
		"kong.client.authenticate": func(st *pdkState, args []byte) ([]byte, error) {
			if err := st.in(accessOnly...); err != nil {
				return nil, err
			}
			var a pb.AuthenticateArgs
			if err := decode(args, &a); err != nil {
				return nil, err
			}
			if a.Consumer == nil && a.Credential == nil {
				return nil, fail("either credential or consumer must be provided")
			}
			if a.Consumer != nil {
				st.x.Consumer = &Consumer{ID: a.Consumer.Id, Username: a.Consumer.Username,
					CustomID: a.Consumer.CustomId, CreatedAt: a.Consumer.CreatedAt, Tags: a.Consumer.Tags}
			}
			if a.Credential != nil {
				st.x.Credential = &Credential{ID: a.Credential.Id, ConsumerID: a.Credential.ConsumerId}
			}
			return replyEmpty()
		},
		"kong.client.get_protocol": func(st *pdkState, _ []byte) ([]byte, error) {
			route := st.route()
			if route == nil {
				return replyEmpty() // nil, "No active route found"
			}
			if len(route.Protocols) == 1 {
				return replyString(route.Protocols[0])
			}
			if err := st.live(); err != nil {
				return nil, err // reads ngx.var.scheme
			}
			return replyString(st.x.Scheme)
		},

		"kong.ip.is_trusted": func(st *pdkState, args []byte) ([]byte, error) {
			// Kong's default trusted_ips is empty: nothing is trusted.
			return encodeBool(false), nil
		},

		"kong.log.set_serialize_value": func(st *pdkState, args []byte) ([]byte, error) {
			k, v, err := argKV(args)
			if err != nil {
				return nil, err
			}
			if st.saved == nil {
				st.x.serializeValues = append(st.x.serializeValues, serializeValue{key: k, value: v, mode: "set"})
				// Kong keeps the edits in ngx.ctx.serialize_values, which the log timer's ctx clone carries.
				list, _ := st.x.Ctx["serialize_values"].([]any)
				st.x.Ctx["serialize_values"] = append(list, map[string]any{"key": k, "value": v, "mode": "set"})
			}
			// In the log timer it lands in the ctx clone: accepted, no effect.
			return replyEmpty()
		},
		"kong.log.serialize": func(st *pdkState, _ []byte) ([]byte, error) {
			if st.saved != nil {
				return encodeStringBytes(st.saved.Serialize), nil
			}
			return nil, fail("function cannot be called in %s phase", st.phase)
		},

		"kong.nginx.get_var": func(st *pdkState, args []byte) ([]byte, error) {
			if err := st.live(); err != nil {
				return nil, err
			}
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			if v, ok := st.x.nginxVar(name); ok {
				return replyString(v)
			}
			return replyEmpty()
		},
		"kong.nginx.get_tls1_version_str": func(st *pdkState, _ []byte) ([]byte, error) {
			return replyEmpty() // no TLS: nil
		},
		"kong.nginx.req_start_time": func(st *pdkState, _ []byte) ([]byte, error) {
			if st.saved != nil {
				return encodeNumber(st.saved.StartTime), nil
			}
			return encodeNumber(float64(st.x.Start.UnixMilli()) / 1000), nil
		},
		"kong.nginx.get_subsystem": func(st *pdkState, _ []byte) ([]byte, error) { return replyString("http") },

		"kong.node.get_id": func(st *pdkState, _ []byte) ([]byte, error) { return replyString(st.sim.nodeID) },
		"kong.node.get_memory_stats": func(st *pdkState, _ []byte) ([]byte, error) {
			dict := func(capacity int64) []byte {
				return appendVarintField(appendVarintField(nil, 1, 4), 2, capacity)
			}
			dicts := appendMessageField(nil, 1, dict(5<<20))
			dicts = appendMessageField(dicts, 2, dict(128<<20))
			vm := appendVarintField(appendVarintField(nil, 1, 40<<10), 2, int64(os.Getpid()))
			return appendMessageField(appendMessageField(nil, 1, dicts), 2, vm), nil
		},

		"kong.request.get_scheme":           liveString(func(x *Exchange) string { return x.Scheme }),
		"kong.request.get_host":             liveString(func(x *Exchange) string { return x.Host }),
		"kong.request.get_port":             liveInt(func(x *Exchange) int { return x.Port }),
		"kong.request.get_forwarded_scheme": liveString(func(x *Exchange) string { return x.Scheme }),
		"kong.request.get_forwarded_host":   liveString(func(x *Exchange) string { return x.Host }),
		"kong.request.get_forwarded_port":   liveInt(func(x *Exchange) int { return x.Port }),
		"kong.request.get_http_version": func(st *pdkState, _ []byte) ([]byte, error) {
			if err := st.live(); err != nil {
				return nil, err
			}
			return encodeNumber(st.x.HTTPVersion), nil
		},
		"kong.request.get_method": liveString(func(x *Exchange) string { return x.Method }),
		"kong.request.get_path":   liveString(func(x *Exchange) string { return x.Path }),
		"kong.request.get_path_with_query": liveString(func(x *Exchange) string {
			if x.RawQuery == "" {
				return x.Path
			}
			return x.Path + "?" + x.RawQuery
		}),
		"kong.request.get_raw_query": liveString(func(x *Exchange) string { return x.RawQuery }),
		"kong.request.get_query_arg": func(st *pdkState, args []byte) ([]byte, error) {
			if err := st.live(); err != nil {
				return nil, err
			}
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			switch v := luaQuery(st.x.RawQuery, 100)[name].(type) {
			case string:
				return replyString(v)
			case []any:
				if s, ok := v[0].(string); ok {
					return replyString(s)
				}
			}
			return replyEmpty()
		},
		"kong.request.get_query": func(st *pdkState, args []byte) ([]byte, error) {
			if err := st.live(); err != nil {
				return nil, err
			}
			max, err := argInt(args)
			if err != nil {
				return nil, err
			}
			return replyStruct(luaQuery(st.x.RawQuery, max))
		},
		"kong.request.get_header": func(st *pdkState, args []byte) ([]byte, error) {
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			if v, ok := headerLookup(st.requestHeaders(), name); ok {
				return replyString(v)
			}
			return replyEmpty()
		},
		"kong.request.get_headers": func(st *pdkState, args []byte) ([]byte, error) {
			max, err := argInt(args)
			if err != nil {
				return nil, err
			}
			if st.saved != nil {
				max = 100 // the saved table: max is ignored
			}
			return replyStruct(luaHeaders(st.requestHeaders(), max))
		},
		"kong.request.get_raw_body": func(st *pdkState, _ []byte) ([]byte, error) {
			if err := st.in("rewrite", "access", "response"); err != nil {
				return nil, err
			}
			return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), st.x.Body), nil
		},
		"kong.request.get_uri_captures": func(st *pdkState, _ []byte) ([]byte, error) {
			// UriCapturesResult: repeated bytes unnamed = 1 (Lua's array
			// part from [1]: the whole match, [0], is not sent); map named = 2.
			// The saved ngx.ctx of the log timer holds the same captures.
			captures, named := st.uriCaptures()
			var b []byte
			for _, c := range captures {
				b = protowire.AppendBytes(protowire.AppendTag(b, 1, protowire.BytesType), []byte(c))
			}
			names := make([]string, 0, len(named))
			for n := range named {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				entry := appendStringField(nil, 1, n)
				entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), []byte(named[n]))
				b = appendMessageField(b, 2, entry)
			}
			return b, nil
		},

		"kong.response.get_status": func(st *pdkState, _ []byte) ([]byte, error) {
			if st.saved != nil {
				return replyInt(st.saved.Status)
			}
			return replyInt(st.x.Status)
		},
		"kong.response.get_header": func(st *pdkState, args []byte) ([]byte, error) {
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			if v, ok := headerLookup(st.responseHeaders(), name); ok {
				return replyString(v)
			}
			return replyEmpty()
		},
		"kong.response.get_headers": func(st *pdkState, args []byte) ([]byte, error) {
			max, err := argInt(args)
			if err != nil {
				return nil, err
			}
			if st.saved != nil {
				max = 100
			}
			return replyStruct(luaHeaders(st.responseHeaders(), max))
		},
		"kong.response.get_source": func(st *pdkState, _ []byte) ([]byte, error) {
			if st.saved != nil {
				return replyString(st.saved.Source)
			}
			return replyString(st.x.responseSource())
		},
		"kong.response.set_status": liveSetter(rewriteAccessHeader, func(st *pdkState, args []byte) error {
			n, err := argInt(args)
			if err != nil {
				return err
			}
			if n < 100 || n > 599 {
				return fail("code must be a number between 100 and 599")
			}
			st.x.Status = n
			return nil
		}),
		"kong.response.exit": func(st *pdkState, args []byte) ([]byte, error) {
			if err := st.in(rewriteAccessHeader...); err != nil {
				return nil, err
			}
			var a pb.ExitArgs
			if err := decode(args, &a); err != nil {
				return nil, err
			}
			if a.Status < 100 || a.Status > 599 {
				return nil, fail("code must be a number between 100 and 599")
			}
			exit := &ExitResponse{Status: int(a.Status), Body: a.Body, Headers: http.Header{}}
			if a.Headers != nil {
				if err := setHeaders(exit.Headers, luaStruct(a.Headers)); err != nil {
					return nil, err
				}
			}
			st.x.Exit = exit
			st.res.Exit = exit
			return nil, errExit
		},

		"kong.router.get_route": func(st *pdkState, _ []byte) ([]byte, error) {
			if r := st.route(); r != nil {
				return r.pb(), nil
			}
			return replyEmpty()
		},
		"kong.router.get_service": func(st *pdkState, _ []byte) ([]byte, error) {
			if s := st.service(); s != nil {
				return s.pb(), nil
			}
			return replyEmpty()
		},

		"kong.service.set_upstream": func(st *pdkState, args []byte) ([]byte, error) {
			if err := st.in(accessOnly...); err != nil {
				return nil, err
			}
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			st.x.UpstreamName = name
			if !st.sim.version.AtLeast(7) {
				// The proto said Empty until 3.7: encoding `true` failed.
				return nil, fail("bad argument #2 to 'encode' (table expected, got boolean)")
			}
			return encodeBool(true), nil
		},
		"kong.service.set_target": liveSetter(accessOnly, func(st *pdkState, args []byte) error {
			var t pb.Target
			if err := decode(args, &t); err != nil {
				return err
			}
			st.x.UpstreamTarget = t.Host + ":" + strconv.Itoa(int(t.Port))
			return nil
		}),

		"kong.service.request.set_scheme": liveSetter(rewriteAccess, func(st *pdkState, args []byte) error {
			s, err := argString(args)
			if err != nil {
				return err
			}
			if s != "http" && s != "https" {
				return fail("invalid scheme: %s", s)
			}
			st.x.UpstreamScheme = s
			return nil
		}),
		"kong.service.request.set_path": liveSetter(rewriteAccess, func(st *pdkState, args []byte) error {
			s, err := argString(args)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(s, "/") {
				return fail("path must start with /")
			}
			st.x.UpstreamPath = s
			return nil
		}),
		"kong.service.request.set_raw_query": liveSetter(rewriteAccess, func(st *pdkState, args []byte) error {
			s, err := argString(args)
			if err == nil {
				st.x.RawQuery = s
			}
			return err
		}),
		"kong.service.request.set_method": liveSetter(rewriteAccess, func(st *pdkState, args []byte) error {
			s, err := argString(args)
			if err != nil {
				return err
			}
			if !validMethods[s] {
				return fail("invalid method: %s", s)
			}
			st.x.Method = s
			return nil
		}),
		"kong.service.request.set_query": liveSetter(rewriteAccess, func(st *pdkState, args []byte) error {
			t, err := argStruct(args)
			if err != nil {
				return err
			}
			st.x.RawQuery = encodeLuaQuery(t)
			return nil
		}),
		"kong.service.request.set_raw_body": liveSetter(rewriteAccess, func(st *pdkState, args []byte) error {
			var b pb.ByteString
			if err := decode(args, &b); err != nil {
				return err
			}
			st.x.Body = b.V
			return nil
		}),

		"kong.service.response.get_status": func(st *pdkState, _ []byte) ([]byte, error) {
			b, err := st.buffered("")
			if err != nil {
				return nil, err
			}
			return replyInt(b.Status)
		},
		"kong.service.response.get_header": func(st *pdkState, args []byte) ([]byte, error) {
			b, err := st.buffered("")
			if err != nil {
				return nil, err
			}
			name, err := argString(args)
			if err != nil {
				return nil, err
			}
			if v, ok := headerLookup(b.Headers, name); ok {
				return replyString(v)
			}
			return replyEmpty()
		},
		"kong.service.response.get_headers": func(st *pdkState, args []byte) ([]byte, error) {
			b, err := st.buffered("")
			if err != nil {
				return nil, err
			}
			max, err := argInt(args)
			if err != nil {
				return nil, err
			}
			return replyStruct(luaHeaders(b.Headers, max))
		},
		"kong.service.response.get_raw_body": func(st *pdkState, _ []byte) ([]byte, error) {
			b, err := st.buffered("service body is only available with buffered proxying")
			if err != nil {
				return nil, err
			}
			return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), b.Body), nil
		},
	}
	for _, level := range logLevels {
		m["kong.log."+level] = logMethod(level)
	}
	for name, f := range tableMethods("kong.ctx.shared.set", "kong.ctx.shared.get", (*pdkState).shared) {
		m[name] = f
	}
	for name, f := range tableMethods("kong.nginx.set_ctx", "kong.nginx.get_ctx", (*pdkState).ctx) {
		m[name] = f
	}
	for name, f := range headerMethods("kong.response", rewriteAccessHeader, func(st *pdkState) http.Header { return st.x.ResponseHeaders }) {
		m[name] = f
	}
	for name, f := range headerMethods("kong.service.request", rewriteAccess, func(st *pdkState) http.Header { return st.x.Headers }) {
		m[name] = f
	}
	pdkMethods = m
}

func logMethod(level string) pdkFunc {
	return func(st *pdkState, args []byte) ([]byte, error) {
		var l structpb.ListValue
		if err := decode(args, &l); err != nil {
			return nil, err
		}
		var sb strings.Builder
		for _, v := range l.Values {
			sb.WriteString(luaToString(luaValue(v)))
		}
		msg := sb.String()
		st.res.Logs = append(st.res.Logs, LogEntry{Level: level, Message: msg})
		st.sim.log.Info("["+st.sim.info.Name+"] "+msg, "level", level, "phase", st.phase)
		return replyEmpty()
	}
}

// encodeStringBytes wraps raw bytes as String{v}: no UTF-8 check, as Kong.
func encodeStringBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), b)
}

func encodeLuaQuery(t map[string]any) string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	add := func(k string, v any) {
		if v == true {
			parts = append(parts, url.QueryEscape(k))
			return
		}
		switch x := v.(type) {
		case string:
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(x))
		default:
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(luaToString(x)))
		}
	}
	for _, k := range keys {
		if l, ok := t[k].([]any); ok {
			for _, v := range l {
				add(k, v)
			}
			continue
		}
		add(k, t[k])
	}
	return strings.Join(parts, "&")
}

func (st *pdkState) shared() map[string]any {
	if st.saved != nil {
		if st.saved.Shared == nil {
			st.saved.Shared = map[string]any{}
		}
		return st.saved.Shared
	}
	return st.x.Shared
}

func (st *pdkState) ctx() map[string]any {
	if st.saved != nil {
		if st.saved.Ctx == nil {
			st.saved.Ctx = map[string]any{}
		}
		return st.saved.Ctx
	}
	return st.x.Ctx
}

func (st *pdkState) requestHeaders() http.Header {
	if st.saved != nil {
		return st.saved.RequestHeaders
	}
	return st.x.Headers
}

func (st *pdkState) responseHeaders() http.Header {
	if st.saved != nil {
		return st.saved.ResponseHeaders
	}
	return st.x.ResponseHeaders
}

func (st *pdkState) route() *Route {
	if st.saved != nil {
		return st.saved.Route
	}
	return st.x.Route
}

func (st *pdkState) service() *Service {
	if st.saved != nil {
		return st.saved.Service
	}
	return st.x.Service
}

func (st *pdkState) consumer() *Consumer {
	if st.saved != nil {
		return st.saved.Consumer
	}
	return st.x.Consumer
}

func (st *pdkState) credential() *Credential {
	if st.saved != nil {
		return st.saved.Credential
	}
	return st.x.Credential
}

// buffered returns the buffered upstream response kong.service.response.*
// read; without buffered proxying they read ngx.var/ngx.resp and fail.
func (st *pdkState) buffered(unbufferedErr string) (*BufferedResponse, error) {
	if err := st.in(serviceResponsePhase...); err != nil {
		return nil, err
	}
	var b *BufferedResponse
	if st.saved != nil {
		b = st.saved.Buffered
	} else {
		b = st.x.Buffered
	}
	if b == nil {
		if unbufferedErr != "" {
			return nil, fail("%s", unbufferedErr)
		}
		return nil, fail(reasonDisabled)
	}
	return b, nil
}

// nginxVar answers the ngx.var names plugins commonly read.
func (x *Exchange) nginxVar(name string) (string, bool) {
	switch name {
	case "request_uri":
		return x.RequestURI, true
	case "uri":
		return x.Path, true
	case "args", "query_string":
		return x.RawQuery, x.RawQuery != ""
	case "is_args":
		if x.RawQuery != "" {
			return "?", true
		}
		return "", true
	case "scheme":
		return x.Scheme, true
	case "host":
		return x.Host, true
	case "remote_addr", "realip_remote_addr", "binary_remote_addr":
		return x.ClientIP, true
	case "remote_port", "realip_remote_port":
		return strconv.Itoa(x.ClientPort), true
	case "server_port":
		return strconv.Itoa(x.Port), true
	case "server_addr":
		return "127.0.0.1", true
	case "request_method":
		return x.Method, true
	case "request_length":
		return strconv.Itoa(x.RequestSize), true
	case "server_protocol":
		return fmt.Sprintf("HTTP/%.1f", x.HTTPVersion), true
	case "upstream_uri":
		return x.UpstreamURI(), x.Route != nil
	case "upstream_scheme":
		return x.UpstreamScheme, x.UpstreamScheme != ""
	case "request_id", "kong_request_id":
		return x.ID, true
	case "kong_proxy_mode":
		return "http", true
	case "hostname":
		h, _ := os.Hostname()
		return h, true
	}
	if h, ok := strings.CutPrefix(name, "http_"); ok {
		return headerLookup(x.Headers, h)
	}
	if a, ok := strings.CutPrefix(name, "arg_"); ok {
		for _, part := range strings.Split(x.RawQuery, "&") {
			if k, v, _ := strings.Cut(part, "="); strings.EqualFold(k, a) {
				return v, true
			}
		}
	}
	return "", false
}
