// Command probe is a tiny go-pdk plugin the kongsim conformance tests run
// through the emulator. Its config's mode selects what it does; each mode
// exercises one Kong behaviour and reports what it saw through response
// headers (access) or kong.log.notice (log).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"
)

type Config struct {
	Mode   string   `json:"mode"`
	Tag    string   `json:"tag"`
	Reject bool     `json:"reject"`
	Limit  int      `json:"limit"`
	Ratio  float64  `json:"ratio"`
	Names  []string `json:"names"`
	Extra  struct {
		Depth int `json:"depth"`
	} `json:"extra"`
}

// UnmarshalJSON refuses {"reject": true}: a plugin's own config check at
// StartInstance, which Kong surfaces as a 500.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	if err := json.Unmarshal(b, (*plain)(c)); err != nil {
		return err
	}
	if c.Reject {
		return errors.New("reject is set")
	}
	return nil
}

func New() interface{} { return &Config{} }

func setSerializeValue(kong *pdk.PDK, key string, v interface{}) error {
	val, err := structpb.NewValue(v)
	if err != nil {
		return err
	}
	return kong.Log.Ask("kong.log.set_serialize_value", &pb.KV{K: key, V: val}, nil)
}

func (c Config) Access(kong *pdk.PDK) {
	switch c.Mode {
	case "count":
		v, _ := kong.Request.GetHeader("x-probe")
		_ = kong.ServiceRequest.SetHeader("x-probe-seen", v)
		_ = setSerializeValue(kong, "probe", map[string]interface{}{"tag": c.Tag, "seen": v})
	case "exit":
		kong.Response.Exit(418, []byte("teapot"), map[string][]string{"X-Exit": {"yes"}})
	case "panic":
		if v, _ := kong.Request.GetHeader("x-panic"); v == "1" {
			panic("probe: asked to panic")
		}
	case "utf8":
		_, err := kong.Request.GetHeader("x-latin")
		msg := "none"
		if err != nil {
			msg = err.Error()
		}
		_ = kong.Response.SetHeader("X-Utf8-Error", msg)
	case "live":
		method, _ := kong.Request.GetMethod()
		path, _ := kong.Request.GetPath()
		query, _ := kong.Request.GetRawQuery()
		ip, _ := kong.Client.GetIp()
		host, _ := kong.Request.GetHost()
		route, _ := kong.Router.GetRoute()
		node, _ := kong.Node.GetId()
		_ = kong.Response.SetHeader("X-Probe-Live", strings.Join([]string{method, path, query, ip, host, route.Name, node}, "|"))
		_ = kong.ServiceRequest.SetHeader("X-Upstream-Added", "from-plugin")
		_ = kong.ServiceRequest.SetPath("/rewritten")
		_ = kong.Ctx.SetShared("probe", "shared-value")
		_ = kong.Nginx.SetCtx("probe_ctx", "ctx-value")
	case "forbidden-access":
		_, _ = kong.ServiceResponse.GetStatus()
	}
}

func (c Config) Log(kong *pdk.PDK) {
	switch c.Mode {
	case "forbidden":
		_, err := kong.Request.GetPath()
		// The connection is closed now: this report cannot reach Kong.
		_ = kong.Log.Err("after forbidden call: ", fmt.Sprint(err))
	case "live":
		shared, _ := kong.Ctx.GetSharedString("probe")
		ctxv, _ := kong.Nginx.GetCtxString("probe_ctx")
		hdr, _ := kong.Request.GetHeader("x-upstream-added")
		status, _ := kong.Response.GetStatus()
		start, _ := kong.Nginx.ReqStartTime()
		_ = kong.Log.Notice(fmt.Sprintf("shared=%s ctx=%s header=%s status=%d start=%.3f", shared, ctxv, hdr, status, start))
	default:
		s, err := kong.Log.Serialize()
		if err != nil {
			_ = kong.Log.Err("serialize: ", err.Error())
			return
		}
		if c.Mode == "echo-serialize" {
			_ = kong.Log.Notice(s)
		}
	}
}

func main() {
	_ = server.StartServer(New, "0.1", 1)
}
