// Package faults is the plugin's fault suite: the real plugin binary under
// the Kong emulator (test/kongsim), fed a steady stream of log events over
// its unix socket, exporting to real OTLP/HTTP receivers (test/otlpsink) or
// to an in-process Kafka broker (test/kafkatest) on loopback while the
// tests break things: the backend goes down, throttles, refuses, hangs or
// resets, the broker stops or answers late; the plugin server is killed or
// reloaded.
//
// Every test is bounded in time and request count and stops by itself.
// Each one asserts what must hold (no span lost with the spool on; every
// loss counted without it; Retry-After honoured...) and records its
// figures; `FAULTS_REPORT=path go test ./test/faults` writes them as the
// Markdown table the README's Reliability section quotes.
//
// Timings are scaled down so the suite takes a few minutes (see
// scaledOutage); FAULTS_FULL=1 runs the backend outage for the full 60 s
// with Kong's default 60 s retry budget.
package faults
