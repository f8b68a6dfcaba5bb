package kongsim

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// poolSize is Kong's lua_socket_pool_size default: idle connections kept
// per socket path and worker.
const poolSize = 256

// errClosed is what Kong's cosocket reports when the plugin side closes the
// connection or the read fails: the trigger for reset-and-retry.
var errClosed = errors.New("closed")

// errAborted ends an event that the emulator itself cut short (a PDK call
// Kong would fail, or kong.response.exit); it is never retried.
var errAborted = errors.New("event aborted by the gateway")

// rpcClient is Kong's Rpc object for one plugin: one sequence counter, and a
// pool of connections, each carrying one RPC at a time.
type rpcClient struct {
	socket string
	msgID  atomic.Int64
	// generation counts plugin server exits. nginx drops a pooled
	// connection as soon as its peer closes it (the keepalive close
	// handler), so Kong never picks a connection to a process that has
	// exited; connections are stamped at dial time and those of an older
	// generation are never handed out or pooled again.
	generation atomic.Int64

	mu   sync.Mutex
	idle []*frameConn
}

// nextSeq reproduces Rpc:call's numbering: 2, 3, 4, ... per Rpc object.
func (c *rpcClient) nextSeq() int64 { return c.msgID.Add(1) + 1 }

func (c *rpcClient) get() (*frameConn, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		fc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return fc, nil
	}
	c.mu.Unlock()
	generation := c.generation.Load()
	conn, err := net.DialTimeout("unix", c.socket, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("trying to connect: %w", err)
	}
	fc := newFrameConn(conn)
	fc.generation = generation
	return fc, nil
}

// serverExited drops the idle connections to a plugin server that has
// exited, as nginx's keepalive pool does when their peer closes them.
func (c *rpcClient) serverExited() {
	c.generation.Add(1)
	c.closeIdle()
}

// put returns a connection after a complete exchange (Kong's setkeepalive).
func (c *rpcClient) put(fc *frameConn) {
	c.mu.Lock()
	if len(c.idle) < poolSize && fc.generation == c.generation.Load() {
		c.idle = append(c.idle, fc)
		fc = nil
	}
	c.mu.Unlock()
	if fc != nil {
		fc.Close()
	}
}

func (c *rpcClient) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, fc := range idle {
		fc.Close()
	}
}

// call runs a command without a PDK loop (StartInstance, CloseInstance).
func (c *rpcClient) call(build func(seq int64) *pb.RpcCall) (*pb.RpcReturn, error) {
	fc, err := c.get()
	if err != nil {
		return nil, err
	}
	seq := c.nextSeq()
	data, err := proto.Marshal(build(seq))
	if err != nil {
		fc.Close()
		return nil, err
	}
	if err := fc.writeFrame(data); err != nil {
		fc.Close()
		return nil, errClosed
	}
	reply, err := fc.readFrame()
	if err != nil {
		fc.Close()
		return nil, errClosed
	}
	ret, err := c.decodeReturn(reply, seq)
	if err != nil {
		fc.Close()
		return nil, err
	}
	c.put(fc)
	return ret, nil
}

func (c *rpcClient) decodeReturn(data []byte, seq int64) (*pb.RpcReturn, error) {
	var ret pb.RpcReturn
	if err := proto.Unmarshal(data, &ret); err != nil {
		return nil, fmt.Errorf("decoding RpcReturn: %w", err)
	}
	if ret.Sequence != seq {
		// Kong: assert(msg.sequence == msg_id)
		return nil, fmt.Errorf("assertion failed: RpcReturn sequence %d, sent %d", ret.Sequence, seq)
	}
	return &ret, nil
}

func (c *rpcClient) startInstance(name string, config []byte) (int32, error) {
	ret, err := c.call(func(seq int64) *pb.RpcCall {
		return &pb.RpcCall{Sequence: seq, Call: &pb.RpcCall_CmdStartInstance{
			CmdStartInstance: &pb.CmdStartInstance{Name: name, Config: config}}}
	})
	if err != nil {
		return 0, err
	}
	st := ret.GetInstanceStatus()
	if st == nil {
		return 0, fmt.Errorf("StartInstance reply without instance_status")
	}
	return st.InstanceId, nil
}

func (c *rpcClient) closeInstance(id int32) error {
	_, err := c.call(func(seq int64) *pb.RpcCall {
		return &pb.RpcCall{Sequence: seq, Call: &pb.RpcCall_CmdCloseInstance{
			CmdCloseInstance: &pb.CmdCloseInstance{InstanceId: id}}}
	})
	return err
}

// pdkAction says how the emulator answers one PDK call.
type pdkAction int

const (
	pdkReply pdkAction = iota // write the reply frame
	pdkClose                  // no reply, close the connection (a Lua error in Kong)
	pdkExit                   // kong.response.exit: no reply, close, the request ends
)

// pdkServe answers one PDK call: method name and raw argument bytes in,
// reply bytes (nil = empty frame) and an action out.
type pdkServe func(method string, args []byte) ([]byte, pdkAction)

// handleEvent sends cmd_handle_event and serves the PDK loop until the
// plugin's empty frame and RpcReturn. It returns errClosed when the plugin
// side went away (retryable), errAborted when the emulator cut the event
// short, or another error (connect failures, protocol errors).
func (c *rpcClient) handleEvent(id int32, event string, serve pdkServe) error {
	fc, err := c.get()
	if err != nil {
		return err
	}
	seq := c.nextSeq()
	data, err := proto.Marshal(&pb.RpcCall{Sequence: seq, Call: &pb.RpcCall_CmdHandleEvent{
		CmdHandleEvent: &pb.CmdHandleEvent{InstanceId: id, EventName: event}}})
	if err != nil {
		fc.Close()
		return err
	}
	if err := fc.writeFrame(data); err != nil {
		fc.Close()
		return errClosed
	}
	for {
		method, err := fc.readFrame()
		if err != nil {
			fc.Close()
			return errClosed
		}
		if len(method) == 0 {
			reply, err := fc.readFrame()
			if err != nil {
				fc.Close()
				return errClosed
			}
			if _, err := c.decodeReturn(reply, seq); err != nil {
				fc.Close()
				return err
			}
			c.put(fc)
			return nil
		}
		args, err := fc.readFrame()
		if err != nil {
			fc.Close()
			return errClosed
		}
		reply, action := serve(string(method), args)
		if action != pdkReply {
			fc.Close()
			return errAborted
		}
		if err := fc.writeFrame(reply); err != nil {
			fc.Close()
			return errClosed
		}
	}
}
