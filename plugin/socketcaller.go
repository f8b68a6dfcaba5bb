package plugin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"unsafe"

	"github.com/Kong/go-pdk/bridge"
	"google.golang.org/protobuf/proto"
)

// socketCaller makes PDK calls on the plugin socket go-pdk's bridge holds,
// with the same frames go-pdk writes (a little-endian uint32 length, then
// the bytes: the method name, then the marshalled arguments; the answer is
// one frame) but fewer system calls: go-pdk's bridge writes every length
// and every body separately (three or four writes per call, each of which
// may wake Kong's reader) and reads the answer's length and body
// separately. Here a call is one write and, for an answer that fits the
// buffer, one read.
//
// Reading more than the length asks for is safe: during an event Kong
// writes only in answer to a call, so nothing can follow the answer frame
// until we write again. Bytes beyond the frame would break that protocol
// and are an error.
type socketCaller struct {
	conn net.Conn
}

// bridgeConnField locates go-pdk's unexported connection inside its
// bridge (go-pdk v0.11: `conn net.Conn`). When the layout is not that,
// newKongCaller keeps go-pdk's own bridge.
var bridgeConnField = func() (offset uintptr, ok bool) {
	f, found := reflect.TypeFor[bridge.PdkBridge]().FieldByName("conn")
	if !found || f.Type != reflect.TypeFor[net.Conn]() {
		return 0, false
	}
	return f.Offset, true
}

var connOffset, connFound = bridgeConnField()

// newKongCaller returns the caller for one event's PDK calls.
func newKongCaller(b bridge.PdkBridge) kongCaller {
	if !connFound {
		return b
	}
	conn := *(*net.Conn)(unsafe.Add(unsafe.Pointer(&b), connOffset))
	if conn == nil {
		return b
	}
	return socketCaller{conn}
}

// callBuffers hold a call's request and, when it fits, its answer.
var callBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

var errTrailingBytes = errors.New("pdk: bytes after the answer frame")

// Ask is go-pdk's bridge Ask: method with args (nil: none), the answer
// unmarshalled into out (nil: ignored).
func (c socketCaller) Ask(method string, args proto.Message, out proto.Message) error {
	bp := callBuffers.Get().(*[]byte)
	defer callBuffers.Put(bp)
	buf := binary.LittleEndian.AppendUint32((*bp)[:0], uint32(len(method)))
	buf = append(buf, method...)
	argsAt := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	if args != nil {
		var err error
		if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf, args); err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(buf[argsAt:], uint32(len(buf)-argsAt-4))
	}
	if _, err := c.conn.Write(buf); err != nil {
		return err
	}
	frame, err := readFrame(c.conn, buf[:cap(buf)])
	*bp = buf[:0]
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return proto.Unmarshal(frame, out)
}

// readFrame reads one frame, into buf when it fits (else a buffer of its
// own), and returns its body.
func readFrame(conn net.Conn, buf []byte) ([]byte, error) {
	n, err := io.ReadAtLeast(conn, buf, 4)
	if err != nil {
		return nil, err
	}
	size := int(binary.LittleEndian.Uint32(buf))
	switch {
	case n > 4+size:
		return nil, errTrailingBytes
	case 4+size > len(buf):
		body := make([]byte, size)
		copy(body, buf[4:n])
		if _, err := io.ReadFull(conn, body[n-4:]); err != nil {
			return nil, fmt.Errorf("pdk: answer of %d bytes: %w", size, err)
		}
		return body, nil
	}
	if _, err := io.ReadFull(conn, buf[n:4+size]); err != nil {
		return nil, err
	}
	return buf[4 : 4+size], nil
}
