package i2c

import "time"

// Timing learned from the chip. The datasheet tables give a typical and a
// maximum execution time per command, but real chips differ: 608 typical
// times are unpublished (the driver guesses half the maximum), and field
// 608s have signed in up to 179 ms against a 115 ms table maximum. The
// transport therefore times each command from what the chip itself did
// recently: it keeps, per opcode and mode, the completion times of the
// last few commands, first polls at the earliest of them and polls at an
// interval a twelfth of their spread, so on a chip with steady timing it
// reads within about one poll interval (0.25 ms) of readiness at one or
// two NAKs, and on a chip with scattered timing it spends a handful of
// polls. The same record raises the watchdog budget check above the table
// maximum for a chip that runs slower than the table.

const (
	learnWindow  = 8                      // completion times kept per command kind
	learnPollMin = 250 * time.Microsecond // finest poll interval once learned
	growthNum    = 3                      // interval grows ×3/2 per NAK past what was learned
	growthDen    = 2
)

// A timingKey is a command kind: opcode and Param1 (GenKey create and
// public-key modes differ by a factor of ten in time).
type timingKey uint16

func keyOf(cmd *Command) timingKey { return timingKey(cmd.Op)<<8 | timingKey(cmd.P1) }

// opTiming is what the transport learned about one command kind.
type opTiming struct {
	ready  [learnWindow]time.Duration // recent completion times after the send
	n      int                        // observations so far
	streak int                        // consecutive answers read at the first poll
}

// bounds returns the earliest and latest recent completion times.
func (o *opTiming) bounds() (lo, hi time.Duration) {
	k := min(o.n, learnWindow)
	if k == 0 {
		return 0, 0
	}
	lo, hi = o.ready[0], o.ready[0]
	for _, r := range o.ready[1:k] {
		lo, hi = min(lo, r), max(hi, r)
	}
	return lo, hi
}

// plan returns when to poll first (after the send) and the poll interval,
// from what was learned or, before that, from the table.
func (o *opTiming) plan(cmd *Command) (first, interval time.Duration) {
	if o == nil || o.n == 0 {
		return cmd.Typical, min(max((cmd.Max-cmd.Typical)/16, minPoll), maxPoll)
	}
	lo, hi := o.bounds()
	return lo, min(max((hi-lo)/12, learnPollMin), maxPoll)
}

// expected returns the longest time the command is expected to take: the
// table maximum, or more on a chip seen to be slower.
func (o *opTiming) expected(cmd *Command) time.Duration {
	if o == nil || o.n == 0 {
		return cmd.Max
	}
	_, hi := o.bounds()
	return max(cmd.Max, hi+hi/8)
}

// observe records a command that completed: got is when the read that
// got the answer started, lastNAK when the last refused poll before it
// did (negative if the first poll got it). The chip became ready between
// the two; when the first poll got the answer, readiness may have been
// earlier, so the record probes earlier: by 0.25 ms, then by twice as much
// after each further first-poll success, up to 2 ms.
func (o *opTiming) observe(got, lastNAK time.Duration) {
	var r time.Duration
	if lastNAK < 0 {
		o.streak++
		r = max(got-learnPollMin<<min(o.streak-1, 3), 0)
	} else {
		o.streak = 0
		r = lastNAK + (got-lastNAK)/2
	}
	o.ready[o.n%learnWindow] = r
	o.n++
}
