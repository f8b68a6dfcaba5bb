package schema

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
)

// envDefaults holds the OTEL_* variables of the plugin server's process.
// nginx clears its workers' environment, and Kong starts the plugin server
// from a worker, so they must be declared with KONG_NGINX_MAIN_ENV to reach
// us. They are defaults for every instance; a field set in the plugin config
// wins.
type envDefaults struct {
	// resource: OTEL_RESOURCE_ATTRIBUTES with OTEL_SERVICE_NAME over it, for
	// every backend.
	resource map[string]string

	// otlpEnv is the traces signal's: OTEL_EXPORTER_OTLP_TRACES_* over
	// OTEL_EXPORTER_OTLP_*.
	otlpEnv
	// logs is the access logs' (OTEL_EXPORTER_OTLP_LOGS_* over the generic
	// ones), used only for an OTLP access log destination; logsErr is a
	// malformed LOGS_ variable, reported only then.
	logs    otlpEnv
	logsErr error
}

// otlpEnv is what the OTLP exporter specification's variables say for one
// signal: the signal's own variable first, then the generic one.
type otlpEnv struct {
	signalURL   string // OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT: used as is
	signalVar   string // its name
	baseURL     string // OTEL_EXPORTER_OTLP_ENDPOINT: path appended for HTTP
	path        string // the signal's OTLP/HTTP path (/v1/traces, /v1/logs)
	headers     map[string]string
	protocol    Protocol
	compression Compression
	timeoutMs   int
	caFile      string
	certFile    string
	keyFile     string
	// insecure (OTEL_EXPORTER_OTLP_INSECURE): a gRPC endpoint written
	// without a scheme is plaintext instead of TLS.
	insecure bool
}

var (
	envOnce   sync.Once
	envCached envDefaults
	envErr    error
	// lookupEnv is replaced in tests.
	lookupEnv = os.LookupEnv
)

func processEnv() (envDefaults, error) {
	envOnce.Do(func() { envCached, envErr = readEnv(lookupEnv) })
	return envCached, envErr
}

// resetEnvForTest makes the next decode read the environment again.
func resetEnvForTest(lookup func(string) (string, bool)) {
	lookupEnv = lookup
	envOnce = sync.Once{}
}

// readEnv reads the process's variables: the resource's, the traces
// signal's and the access logs'.
func readEnv(lookup func(string) (string, bool)) (envDefaults, error) {
	var e envDefaults
	var err error
	if e.otlpEnv, err = readOTLPEnv(lookup, "TRACES", "/v1/traces"); err != nil {
		return e, err
	}
	e.logs, e.logsErr = readOTLPEnv(lookup, "LOGS", "/v1/logs")
	e.resource, err = readResourceEnv(lookup)
	return e, err
}

// readOTLPEnv reads the signal-specific variable first, then the generic
// one, as the OTLP exporter specification orders them.
func readOTLPEnv(lookup func(string) (string, bool), signal, path string) (otlpEnv, error) {
	prefix := "OTEL_EXPORTER_OTLP_" + signal + "_"
	get := func(name string) (string, string) {
		if v, ok := lookup(prefix + name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), prefix + name
		}
		if v, ok := lookup("OTEL_EXPORTER_OTLP_" + name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), "OTEL_EXPORTER_OTLP_" + name
		}
		return "", ""
	}
	e := otlpEnv{signalVar: prefix + "ENDPOINT", path: path}
	if v, ok := lookup(e.signalVar); ok {
		e.signalURL = strings.TrimSpace(v)
	}
	if v, ok := lookup("OTEL_EXPORTER_OTLP_ENDPOINT"); ok {
		e.baseURL = strings.TrimSpace(v)
	}
	if v, name := get("HEADERS"); v != "" {
		h, err := parseEnvHeaders(v)
		if err != nil {
			return e, fmt.Errorf("%s: %w", name, err)
		}
		e.headers = h
	}
	if v, name := get("PROTOCOL"); v != "" {
		e.protocol = Protocol(v)
		if e.protocol != ProtocolHTTPProtobuf && e.protocol != ProtocolHTTPJSON && e.protocol != ProtocolGRPC {
			return e, fmt.Errorf("%s: must be grpc, http/protobuf or http/json, got %q", name, v)
		}
	}
	if v, name := get("COMPRESSION"); v != "" {
		e.compression = Compression(v)
		if e.compression != CompressionNone && e.compression != CompressionGzip {
			return e, fmt.Errorf("%s: must be gzip or none, got %q", name, v)
		}
	}
	if v, name := get("TIMEOUT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return e, fmt.Errorf("%s: must be a positive number of milliseconds, got %q", name, v)
		}
		e.timeoutMs = n
	}
	if v, name := get("INSECURE"); v != "" {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return e, fmt.Errorf("%s: must be true or false, got %q", name, v)
		}
		e.insecure = b
	}
	e.caFile, _ = get("CERTIFICATE")
	e.certFile, _ = get("CLIENT_CERTIFICATE")
	e.keyFile, _ = get("CLIENT_KEY")
	return e, nil
}

// readResourceEnv reads OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values
// percent-decoded) and OTEL_SERVICE_NAME, which wins for service.name, as the
// OpenTelemetry SDK specification orders them.
func readResourceEnv(lookup func(string) (string, bool)) (map[string]string, error) {
	var out map[string]string
	if v, ok := lookup("OTEL_RESOURCE_ATTRIBUTES"); ok && strings.TrimSpace(v) != "" {
		attrs, err := parseEnvHeaders(v)
		if err != nil {
			return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
		}
		for k, val := range attrs {
			if val == "" {
				return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %q has an empty value", k)
			}
		}
		out = attrs
	}
	if v, ok := lookup("OTEL_SERVICE_NAME"); ok && strings.TrimSpace(v) != "" {
		if out == nil {
			out = map[string]string{}
		}
		out["service.name"] = strings.TrimSpace(v)
	}
	return out, nil
}

// EnvResourceAttributes returns the resource attributes of the plugin server's
// environment (OTEL_RESOURCE_ATTRIBUTES, with OTEL_SERVICE_NAME over it), for
// every backend: resource_attributes goes over them, and they over the
// defaults. The map is shared: do not modify it.
func EnvResourceAttributes() map[string]string {
	env, _ := processEnv()
	return env.resource
}

// parseEnvHeaders reads the W3C-baggage-like "k=v,k2=v2" list; values are
// URL-decoded as the specification says.
func parseEnvHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %q is not key=value", pair)
		}
		dv, err := url.QueryUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", k, err)
		}
		out[k] = dv
	}
	return out, nil
}

func (e otlpEnv) applyScalars(c *Config) {
	if e.protocol != "" {
		c.Protocol = e.protocol
	}
	if e.compression != "" {
		c.Compression = e.compression
	}
	if e.timeoutMs > 0 {
		c.SendTimeout = e.timeoutMs
		c.ReadTimeout = e.timeoutMs
	}
	c.TLSCAFile = e.caFile
	c.TLSClientCertFile = e.certFile
	c.TLSClientKeyFile = e.keyFile
}

// endpoint is the signal's URL from the environment: its own variable as
// is, else the generic one (with the signal's path for HTTP).
func (e otlpEnv) endpoint(p Protocol) string {
	if e.signalURL != "" {
		return e.signalURL
	}
	if e.baseURL == "" {
		return ""
	}
	if p == ProtocolGRPC {
		return e.baseURL
	}
	return strings.TrimRight(e.baseURL, "/") + e.path
}

// applyInsecure follows the OTLP exporter specification: OTEL_EXPORTER_OTLP_INSECURE
// only concerns gRPC endpoints written without a scheme (host:port), which
// are otherwise TLS.
func (e otlpEnv) applyInsecure(c *Config) {
	if !e.insecure || c.Protocol != ProtocolGRPC {
		return
	}
	if c.TracesEndpoint != "" && !strings.Contains(c.TracesEndpoint, "://") {
		c.TracesEndpoint = "http://" + c.TracesEndpoint
	} else if c.TracesEndpoint == "" && c.Endpoint != "" && !strings.Contains(c.Endpoint, "://") {
		c.Endpoint = "http://" + c.Endpoint
	}
}
