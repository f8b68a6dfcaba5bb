package kongsim

import (
	"strconv"
	"strings"
)

// Serialize builds the table kong.log.serialize() returns for the exchange
// in Kong version v (§4 of the reference): the request, upstream, response,
// latencies, tries, entities and workspace fields each version has, with
// authorization headers redacted and set_serialize_value edits applied.
func (x *Exchange) Serialize(v Version) map[string]any {
	req := map[string]any{
		"uri":         x.RequestURI,
		"url":         x.Scheme + "://" + x.Host + ":" + strconv.Itoa(x.Port) + x.RequestURI,
		"querystring": luaQuery(x.RawQuery, 100),
		"method":      x.Method,
		"headers":     luaHeaders(x.Headers, 100),
		"size":        float64(x.RequestSize),
	}
	if v.AtLeast(5) {
		req["id"] = x.ID
	}
	headers := req["headers"].(map[string]any)
	for _, h := range []string{"authorization", "proxy-authorization"} {
		if _, ok := headers[h]; ok {
			headers[h] = "REDACTED"
		}
	}
	t := map[string]any{
		"request":      req,
		"upstream_uri": x.UpstreamURI(),
		"response": map[string]any{
			"status":  float64(x.Status),
			"headers": luaHeaders(x.ResponseHeaders, 100),
			"size":    float64(x.ResponseSize),
		},
		"client_ip":  x.ClientIP,
		"started_at": x.Ctx["KONG_PROCESSING_START"],
	}
	if v.AtLeast(3) {
		var status any = x.UpstreamStatus
		if x.UpstreamStatus == "" && x.Buffered != nil && v.AtLeast(8) {
			status = float64(x.Buffered.Status)
		}
		t["upstream_status"] = status
	}

	kong, ok := x.ctxNumber("KONG_PROXY_LATENCY")
	if !ok {
		kong, _ = x.ctxNumber("KONG_RESPONSE_LATENCY")
	}
	receive, _ := x.ctxNumber("KONG_RECEIVE_TIME")
	proxy, ok := x.ctxNumber("KONG_WAITING_TIME")
	if !ok {
		proxy = -1
	}
	requestTime := float64(0)
	if end, ok := x.ctxNumber("KONG_LOG_START"); ok {
		requestTime = end - x.Ctx["KONG_PROCESSING_START"].(float64)
	}
	lat := map[string]any{"kong": kong, "proxy": proxy, "request": requestTime}
	if v.AtLeast(7) {
		lat["receive"] = receive
	} else {
		lat["kong"] = kong + receive
	}
	t["latencies"] = lat

	if x.Route != nil {
		tries := make([]any, 0, len(x.Tries))
		for _, try := range x.Tries {
			tries = append(tries, try.luaTable())
		}
		t["tries"] = tries
		t["route"] = x.Route.luaTable(x.Workspace)
	}
	if x.Service != nil {
		t["service"] = x.Service.luaTable(x.Workspace)
	}
	if x.Consumer != nil {
		t["consumer"] = x.Consumer.luaTable(x.Workspace)
	}
	if x.Credential != nil {
		t["authenticated_entity"] = map[string]any{"id": x.Credential.ID, "consumer_id": x.Credential.ConsumerID}
	}
	if v.AtLeast(6) {
		if x.responseSource() == "service" {
			t["source"] = "upstream"
		} else {
			t["source"] = "kong"
		}
	}
	if v.AtLeast(7) {
		t["workspace"] = x.Workspace
		t["workspace_name"] = "default"
	}
	for _, sv := range x.serializeValues {
		applySerializeValue(t, sv)
	}
	return t
}

func (t Try) luaTable() map[string]any {
	startNS := float64(t.BalancerStart.UnixNano())
	m := map[string]any{
		"balancer_start":      msOf(t.BalancerStart),
		"balancer_start_ns":   startNS,
		"ip":                  t.IP,
		"port":                float64(t.Port),
		"balancer_latency":    float64(t.BalancerLatencyNS / 1e6),
		"balancer_latency_ns": float64(t.BalancerLatencyNS),
	}
	if t.State != "" {
		m["state"] = t.State
		m["code"] = float64(t.Code)
	}
	return m
}

// applySerializeValue is Kong's table_path edit for one set_serialize_value
// entry: dotted keys walk (and create) nested tables; "add" writes only when
// absent, "replace" only when present.
func applySerializeValue(t map[string]any, sv serializeValue) {
	parts := strings.Split(sv.key, ".")
	cur := t
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			if sv.mode == "replace" {
				return
			}
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	last := parts[len(parts)-1]
	_, present := cur[last]
	switch {
	case sv.mode == "add" && present, sv.mode == "replace" && !present:
		return
	}
	if sv.value == nil {
		delete(cur, last)
		return
	}
	cur[last] = sv.value
}
