package kongsim

import (
	"crypto/sha1"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Service is a Kong service entity (the fields the emulator uses).
type Service struct {
	ID             string
	Name           string
	Protocol       string // http or https
	Host           string // a hostname/IP, or the name of an Upstream
	Port           int
	Path           string // "" when unset
	Retries        int
	ConnectTimeout int // ms
	WriteTimeout   int // ms
	ReadTimeout    int // ms
	Tags           []string
	CreatedAt      int64
}

// Route is a Kong route entity.
type Route struct {
	ID            string
	Name          string
	Protocols     []string
	Methods       []string
	Hosts         []string
	Paths         []string
	StripPath     bool
	PreserveHost  bool
	RegexPriority int
	Tags          []string
	Service       *Service // nil for a route without service
	CreatedAt     int64
}

// Consumer is a Kong consumer entity.
type Consumer struct {
	ID        string
	Username  string
	CustomID  string
	Tags      []string
	CreatedAt int64
}

// Credential is what kong.client.authenticate records.
type Credential struct {
	ID         string
	ConsumerID string
}

// Upstream is a load-balanced set of targets a service host can name.
type Upstream struct {
	ID      string
	Name    string
	Targets []string // host:port, in order; round robin
}

// entityID gives entities without an id a stable uuid-shaped id derived from
// their kind and name, so repeated runs of the same declarative file agree.
func entityID(kind, name string) string {
	h := sha1.Sum([]byte("kongsim:" + kind + ":" + name))
	h[6] = (h[6] & 0x0f) | 0x50 // version 5
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func nowSeconds() int64 { return time.Now().Unix() }

// luaTable is the service as ngx.ctx.service holds it (nulls stripped), the
// shape kong.log.serialize copies.
func (s *Service) luaTable(wsID string) map[string]any {
	t := map[string]any{
		"id": s.ID, "protocol": s.Protocol, "host": s.Host, "port": float64(s.Port),
		"retries": float64(s.Retries), "connect_timeout": float64(s.ConnectTimeout),
		"write_timeout": float64(s.WriteTimeout), "read_timeout": float64(s.ReadTimeout),
		"enabled": true, "created_at": float64(s.CreatedAt), "updated_at": float64(s.CreatedAt),
		"ws_id": wsID,
	}
	if s.Name != "" {
		t["name"] = s.Name
	}
	if s.Path != "" {
		t["path"] = s.Path
	}
	if len(s.Tags) > 0 {
		t["tags"] = stringsToAny(s.Tags)
	}
	return t
}

func (r *Route) luaTable(wsID string) map[string]any {
	t := map[string]any{
		"id": r.ID, "protocols": stringsToAny(r.Protocols), "strip_path": r.StripPath,
		"preserve_host": r.PreserveHost, "regex_priority": float64(r.RegexPriority),
		"https_redirect_status_code": float64(426), "path_handling": "v0",
		"request_buffering": true, "response_buffering": true,
		"created_at": float64(r.CreatedAt), "updated_at": float64(r.CreatedAt), "ws_id": wsID,
	}
	if r.Name != "" {
		t["name"] = r.Name
	}
	if len(r.Paths) > 0 {
		t["paths"] = stringsToAny(r.Paths)
	}
	if len(r.Methods) > 0 {
		t["methods"] = stringsToAny(r.Methods)
	}
	if len(r.Hosts) > 0 {
		t["hosts"] = stringsToAny(r.Hosts)
	}
	if len(r.Tags) > 0 {
		t["tags"] = stringsToAny(r.Tags)
	}
	if r.Service != nil {
		t["service"] = map[string]any{"id": r.Service.ID}
	}
	return t
}

func (c *Consumer) luaTable(wsID string) map[string]any {
	t := map[string]any{"id": c.ID, "created_at": float64(c.CreatedAt),
		"updated_at": float64(c.CreatedAt), "ws_id": wsID}
	if c.Username != "" {
		t["username"] = c.Username
	}
	if c.CustomID != "" {
		t["custom_id"] = c.CustomID
	}
	if len(c.Tags) > 0 {
		t["tags"] = stringsToAny(c.Tags)
	}
	return t
}

func stringsToAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func appendRepeatedString(b []byte, num protowire.Number, l []string) []byte {
	for _, s := range l {
		b = protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
	}
	return b
}

// pbRoute encodes the kong_plugin_protocol.Route message.
func (r *Route) pb() []byte {
	var b []byte
	b = appendStringField(b, 1, r.ID)
	b = appendVarintField(b, 2, r.CreatedAt)
	b = appendVarintField(b, 3, r.CreatedAt)
	b = appendStringField(b, 4, r.Name)
	b = appendRepeatedString(b, 5, r.Protocols)
	b = appendRepeatedString(b, 6, r.Methods)
	b = appendRepeatedString(b, 7, r.Hosts)
	b = appendRepeatedString(b, 8, r.Paths)
	b = appendVarintField(b, 10, 426)
	b = appendVarintField(b, 11, int64(r.RegexPriority))
	b = appendBoolField(b, 12, r.StripPath)
	b = appendBoolField(b, 13, r.PreserveHost)
	b = appendRepeatedString(b, 17, r.Tags)
	if r.Service != nil {
		b = appendMessageField(b, 18, appendStringField(nil, 1, r.Service.ID))
	}
	return b
}

func (s *Service) pb() []byte {
	var b []byte
	b = appendStringField(b, 1, s.ID)
	b = appendVarintField(b, 2, s.CreatedAt)
	b = appendVarintField(b, 3, s.CreatedAt)
	b = appendStringField(b, 4, s.Name)
	b = appendVarintField(b, 5, int64(s.Retries))
	b = appendStringField(b, 6, s.Protocol)
	b = appendStringField(b, 7, s.Host)
	b = appendVarintField(b, 8, int64(s.Port))
	b = appendStringField(b, 9, s.Path)
	b = appendVarintField(b, 10, int64(s.ConnectTimeout))
	b = appendVarintField(b, 11, int64(s.WriteTimeout))
	b = appendVarintField(b, 12, int64(s.ReadTimeout))
	b = appendRepeatedString(b, 13, s.Tags)
	return b
}

func (c *Consumer) pb() []byte {
	var b []byte
	b = appendStringField(b, 1, c.ID)
	b = appendVarintField(b, 2, c.CreatedAt)
	b = appendStringField(b, 3, c.Username)
	b = appendStringField(b, 4, c.CustomID)
	b = appendRepeatedString(b, 5, c.Tags)
	return b
}

func (c *Credential) pb() []byte {
	var b []byte
	b = appendStringField(b, 1, c.ID)
	b = appendStringField(b, 2, c.ConsumerID)
	return b
}
