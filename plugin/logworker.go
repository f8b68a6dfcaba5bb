package plugin

import (
	"sync"
	"time"
)

// logWorker runs the log path (parse, spans, access log, metrics) of the
// requests whose serialize payload a Log handler has read, in batches on
// one goroutine of its own, so the handler answers Kong as soon as it has
// the payload.
//
// Why: every log event is a socket ping-pong with Kong's log timer. The
// sooner the handler returns, the less the timer waits, and both processes
// go to sleep and wake up less often; and parsing a few dozen payloads in a
// row, with the parser's code and data in the CPU caches, costs less than
// one at a time between two socket round trips.
//
// Nothing is lost and nothing waits: a payload the worker cannot hold
// (logMaxJobs, logMaxBytes; counted in LogWorkerFull) is processed by the
// handler itself, as without the worker; Drain processes what is held (at
// shutdown, before the pipelines flush). A request whose resource templates
// need more PDK calls (uri_captures, kong.ctx.shared) is always processed
// in the handler, which is the only place those calls can be made.
type logWorker struct {
	wake  chan struct{} // capacity 1: the first job of a batch, a full batch
	stop  chan struct{} // closed by Drain
	delay time.Duration // logBatchDelay; tests set their own

	// processing is held while a batch is processed: Drain waits for the
	// batch in hand before it returns.
	processing sync.Mutex

	mu     sync.Mutex
	jobs   []logJob
	spare  []logJob // the previous batch's array, reused
	bytes  int
	closed bool
}

type logJob struct {
	rt      *runtime
	payload string
}

// Batching: a batch is processed once it holds logBatchJobs payloads or its
// first one has waited logBatchDelay (spans then wait in the export queue
// for max_coalescing_delay anyway). The worker holds at most maxJobs
// payloads or maxBytes of them.
const (
	logBatchJobs  = 64
	logBatchDelay = 5 * time.Millisecond
	logMaxJobs    = 1024
	logMaxBytes   = 4 << 20
)

// callsKong reports whether the templates make PDK calls per request.
func (r *resources) callsKong() bool { return r.needs.URICaptures || len(r.needs.Shared) > 0 }

func newLogWorker(env *Env) *logWorker {
	return startLogWorker(env, logBatchDelay)
}

func startLogWorker(env *Env, delay time.Duration) *logWorker {
	w := &logWorker{wake: make(chan struct{}, 1), stop: make(chan struct{}), delay: delay}
	go w.run(env)
	return w
}

// offer hands the worker a request's payload; false: process it yourself.
func (w *logWorker) offer(rt *runtime, payload string) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	if len(w.jobs) >= logMaxJobs || w.bytes+len(payload) > logMaxBytes {
		w.mu.Unlock()
		rt.stats.LogWorkerFull.Add(1)
		return false
	}
	w.jobs = append(w.jobs, logJob{rt, payload})
	w.bytes += len(payload)
	n := len(w.jobs)
	w.mu.Unlock()
	if n == 1 || n == logBatchJobs {
		w.signal()
	}
	return true
}

func (w *logWorker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *logWorker) run(env *Env) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			return // Drain processes what is held
		}
		// The batch's first payload: give it logBatchDelay to fill.
		if w.pending() < logBatchJobs {
			timer.Reset(w.delay)
			select {
			case <-w.wake:
				timer.Stop()
			case <-timer.C:
			case <-w.stop:
				timer.Stop()
				return
			}
		}
		w.processHeld(env)
	}
}

func (w *logWorker) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.jobs)
}

// processHeld processes every payload held now.
func (w *logWorker) processHeld(env *Env) {
	w.processing.Lock()
	defer w.processing.Unlock()
	w.mu.Lock()
	batch := w.jobs
	w.jobs, w.spare = w.spare[:0], nil
	w.bytes = 0
	w.mu.Unlock()
	for i := range batch {
		processLogJob(env, batch[i])
		batch[i] = logJob{}
	}
	w.mu.Lock()
	if w.spare == nil {
		w.spare = batch[:0]
	}
	w.mu.Unlock()
}

func processLogJob(env *Env, j logJob) {
	defer func() {
		if r := recover(); r != nil {
			env.panicked("log", r)
		}
	}()
	j.rt.logPayload(j.payload, nil)
}

// Drain processes what the worker holds, after the batch in hand, and
// stops it: the handlers process their requests themselves from then on.
func (w *logWorker) Drain(env *Env) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	w.processHeld(env)
}
