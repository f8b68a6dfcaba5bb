package plugin

import "sync/atomic"

// Stats counts what the handlers of one Env did. Every request that does
// not become spans is counted under one reason.
type Stats struct {
	Requests        atomic.Int64 // log events handled
	SpansBuilt      atomic.Int64
	Unsampled       atomic.Int64 // dropped by sampling, no tail rule matched
	TailKept        atomic.Int64 // unsampled but kept by a tail rule
	PDKErrors       atomic.Int64 // a PDK call failed (connection closed, bad UTF-8 ...)
	PayloadInvalid  atomic.Int64 // serialize payload not JSON or without request
	PayloadStream   atomic.Int64 // stream subsystem payloads (not traced yet)
	PayloadTooLarge atomic.Int64
	HandoffInvalid  atomic.Int64 // a malformed hand-off value (ids re-chosen)
	HeaderInvalid   atomic.Int64 // requests with malformed incoming trace-context headers
	Panics          atomic.Int64 // recovered handler panics
	QueueRejected   atomic.Int64 // Enqueue refused the spans (the pipeline counts why)
	TryStartClamped atomic.Int64 // balancer tries that started before their request (moved to its start)
	LogWorkerFull   atomic.Int64 // requests the Log handler processed itself: the log worker held its maximum
	AccessLogs      AccessLogStats
}
