// Command buffered is a go-pdk test plugin with a Response handler, which
// makes Kong proxy in buffered mode: kong.service.response.* then work in
// the response phase and in the log timer.
package main

import (
	"fmt"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

type Config struct{}

func New() interface{} { return &Config{} }

func (c Config) Response(kong *pdk.PDK) {
	status, _ := kong.ServiceResponse.GetStatus()
	hdr, _ := kong.ServiceResponse.GetHeader("x-upstream")
	body, _ := kong.ServiceResponse.GetRawBody()
	_ = kong.Response.SetHeader("X-Buffered", fmt.Sprintf("%d|%s|%d", status, hdr, len(body)))
}

func (c Config) Log(kong *pdk.PDK) {
	status, err := kong.ServiceResponse.GetStatus()
	_ = kong.Log.Notice(fmt.Sprintf("log-status=%d err=%v", status, err))
}

func main() { _ = server.StartServer(New, "0.1", 1) }
