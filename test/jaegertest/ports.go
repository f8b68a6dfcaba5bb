package jaegertest

import (
	"fmt"
	"net"
	"strconv"
)

// Ports are the loopback TCP ports one Jaeger listens on.
type Ports struct {
	OTLPGRPC  int
	OTLPHTTP  int
	Zipkin    int
	QueryHTTP int
	QueryGRPC int
	Health    int
}

// DefaultPorts are Jaeger's usual ports (what tools/jaeger/run.sh uses).
var DefaultPorts = Ports{OTLPGRPC: 4317, OTLPHTTP: 4318, Zipkin: 9411, QueryHTTP: 16686, QueryGRPC: 16685, Health: 13133}

// env is how tools/jaeger/config.yaml receives the ports.
func (p Ports) env() []string {
	return []string{
		"JAEGER_OTLP_GRPC_PORT=" + strconv.Itoa(p.OTLPGRPC),
		"JAEGER_OTLP_HTTP_PORT=" + strconv.Itoa(p.OTLPHTTP),
		"JAEGER_ZIPKIN_PORT=" + strconv.Itoa(p.Zipkin),
		"JAEGER_QUERY_HTTP_PORT=" + strconv.Itoa(p.QueryHTTP),
		"JAEGER_QUERY_GRPC_PORT=" + strconv.Itoa(p.QueryGRPC),
		"JAEGER_HEALTH_PORT=" + strconv.Itoa(p.Health),
	}
}

func (p Ports) complete() bool {
	return p.OTLPGRPC > 0 && p.OTLPHTTP > 0 && p.Zipkin > 0 && p.QueryHTTP > 0 && p.QueryGRPC > 0 && p.Health > 0
}

// freePorts asks the kernel for free loopback ports, holding every listener
// until all are picked so the set has no duplicates. Another process may
// still take one before Jaeger binds it: Start retries with a new set when
// Jaeger reports "address already in use".
func freePorts() (Ports, error) {
	var ports [6]int
	listeners := make([]net.Listener, 0, len(ports))
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, fmt.Errorf("pick a free loopback port: %w", err)
		}
		listeners = append(listeners, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return Ports{OTLPGRPC: ports[0], OTLPHTTP: ports[1], Zipkin: ports[2], QueryHTTP: ports[3], QueryGRPC: ports[4], Health: ports[5]}, nil
}
