package nerveskey

import (
	"context"
	"sync"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// A signQueue holds the signatures waiting for the chip, so that a burst
// of them (TLS handshakes from many goroutines) shares wake cycles
// instead of paying a wake and a sleep each.
//
// Every caller queues its request and asks for the chip (atecc.Dev.Do).
// Whoever gets it runs the queued requests in order, one Nonce+Sign
// sequence each with its caller's own digest and context, for as long as
// a whole sequence still fits in the wake cycle's watchdog budget
// (atecc.Session.SignFits), then lets the chip sleep. A caller whose
// request another session ran stops waiting for the chip and takes its
// result. Only signatures are queued: every other command keeps a wake
// cycle of its own.
//
// Faults: a transient error in one sequence ends the session, and the
// retry (a new wake, from atecc.Dev.Do) runs that sequence alone; the
// lock file is thus held for one wake cycle, plus one per retry, as for
// a single signature. A sequence whose retries run out fails its own
// caller only.
//
// The zero value is an empty queue. A signQueue is safe for concurrent
// use.
type signQueue struct {
	mu       sync.Mutex // guards the fields below and the taken requests' results
	pending  []*signReq // waiting, in arrival order
	inflight *signReq   // taken by a session, not finished: retried first
	runner   *signReq   // the request whose caller's session took inflight
}

// A signReq is one queued signature.
type signReq struct {
	ctx    context.Context
	digest [32]byte
	stop   context.CancelFunc // ends the caller's wait for the chip

	rs   [64]byte
	err  error
	done chan struct{} // closed when rs and err are set
}

// signDigest signs d with the slot 0 key through k's queue.
func (k *Key) signDigest(ctx context.Context, d [32]byte) ([64]byte, error) {
	if k.noBatch {
		return k.chip.dev.SignDigest(ctx, layout.KeySlot, d)
	}
	wait, stop := context.WithCancel(ctx)
	defer stop()
	r := &signReq{ctx: ctx, digest: d, stop: stop, done: make(chan struct{})}
	q := &k.batch
	q.mu.Lock()
	q.pending = append(q.pending, r)
	q.mu.Unlock()
	for {
		err := k.chip.dev.Do(wait, func(s *atecc.Session) error { return q.run(s, r) })
		q.abandon(r, err)
		select {
		case <-r.done:
			return r.rs, r.err
		default:
		}
		if err == nil {
			continue // the wake cycle ended before r's turn
		}
		if q.withdraw(r) {
			return [64]byte{}, err
		}
		// Another session has taken r: it checks r.ctx before each
		// command, so it finishes r within one command's time.
		<-r.done
		return r.rs, r.err
	}
}

// run is the session function of the caller of self: it runs queued
// signatures while they fit in the wake cycle. A session that begins with
// a request to retry runs that one alone.
func (q *signQueue) run(s *atecc.Session, self *signReq) error {
	for first := true; ; first = false {
		r, retry := q.take(s, self)
		if r == nil {
			return nil
		}
		rs, err := s.SignDigest(r.ctx, layout.KeySlot, r.digest)
		if err != nil && atecc.Retryable(err) && r.ctx.Err() == nil {
			return err // inflight stays r: the retry runs it again
		}
		q.finish(r, rs, err, self)
		if retry && first {
			return nil
		}
	}
}

// take returns the request to run next in s, marking it inflight: the one
// to retry, else the oldest pending one if a whole sequence still fits.
func (q *signQueue) take(s *atecc.Session, self *signReq) (r *signReq, retry bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inflight != nil {
		q.runner = self
		return q.inflight, true
	}
	if len(q.pending) == 0 || !s.SignFits(layout.KeySlot) {
		return nil, false
	}
	r = q.pending[0]
	q.pending[0] = nil
	q.pending = q.pending[1:]
	q.inflight, q.runner = r, self
	return r, false
}

// finish sets r's result and releases its caller.
func (q *signQueue) finish(r *signReq, rs [64]byte, err error, self *signReq) {
	q.mu.Lock()
	r.rs, r.err = rs, err
	if q.inflight == r {
		q.inflight, q.runner = nil, nil
	}
	q.mu.Unlock()
	close(r.done)
	if r != self {
		r.stop() // its caller may be waiting for the chip
	}
}

// abandon ends the request left inflight by the session of self's caller
// when that caller's atecc.Dev.Do returned: its retries ran out (or the
// caller's context ended during a retry), and it fails with err.
func (q *signQueue) abandon(self *signReq, err error) {
	q.mu.Lock()
	r := q.inflight
	if r == nil || q.runner != self {
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	q.finish(r, [64]byte{}, err, self)
}

// withdraw removes r from the queue if no session has taken it.
func (q *signQueue) withdraw(r *signReq) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, p := range q.pending {
		if p == r {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return true
		}
	}
	return false
}
