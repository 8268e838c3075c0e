package i2c

import (
	"context"
	"fmt"
	"math"
	"time"
)

// A Session is one wake cycle of the chip, valid only inside the function
// passed to [Transport.Do]. It is not safe for concurrent use.
type Session struct {
	t      *Transport
	wokeAt time.Time // last wake, for the watchdog budget
}

// Clock returns the transport's clock.
func (s *Session) Clock() Clock { return s.t.clk }

// Refresh restarts the chip's watchdog: it sends Idle, which keeps TempKey,
// AuthValid and the 608 digest buffers, and wakes the chip again. Idle
// keeps a SHA context too on the chips Microchip's test suite runs on
// (it idles between SHA Start, Update and End), but the strict reading of
// the datasheet drops it, so no caller may rely on a SHA context
// surviving Refresh. Execute calls it by itself when the next command
// might outlive [WatchdogBudget].
func (s *Session) Refresh(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.t.bus.Tx(s.t.opts.Addr, []byte{wordIdle}, nil); err != nil {
		return &BusError{Op: "send idle", Err: err}
	}
	if err := s.t.wake(); err != nil {
		return err
	}
	s.wokeAt = s.t.clk.Now()
	return nil
}

// Execute sends cmd, waits for the chip to finish it, reads and checks the
// response and returns its payload. A 1-byte answer is a status: 0x00 is
// success for a command with RespLen 1 (Execute then returns the payload
// []byte{0}); any other status is a [*StatusError] naming cmd.Name. A
// response of the wrong length is an [ErrFrame] error.
//
// ctx is checked before the command is sent; once sent, the command runs to
// completion (its wait ignores ctx), because an abandoned command leaves the
// chip busy.
func (s *Session) Execute(ctx context.Context, cmd Command) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := s.t
	if !s.Fits(&cmd) {
		if err := s.Refresh(ctx); err != nil {
			return nil, err
		}
	}
	pkt, err := AppendCommand(make([]byte, 0, 10+len(cmd.Data)), &cmd)
	if err != nil {
		return nil, err
	}
	start := t.clk.Now()
	resp, err := s.run(pkt, &cmd)
	if tr := t.opts.Trace; tr != nil && tr.Command != nil {
		tr.Command(cmd.Name, t.clk.Now().Sub(start), err)
	}
	return resp, err
}

func (s *Session) run(pkt []byte, cmd *Command) ([]byte, error) {
	t := s.t
	if err := t.bus.Tx(t.opts.Addr, pkt, nil); err != nil {
		return nil, &BusError{Op: "send " + cmd.Name, Err: err}
	}
	n := max(cmd.RespLen, 1) + frameOverhead
	if n > maxResponseLen+frameOverhead {
		return nil, fmt.Errorf("%s: response length %d too large", cmd.Name, cmd.RespLen)
	}
	buf := make([]byte, n)
	learn, err := s.await(cmd, buf)
	if err != nil {
		return nil, err
	}
	payload, err := ParseResponse(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.Name, err)
	}
	if len(payload) > 1 || payload[0] == StatusOK {
		// Only a command that did its work teaches its time: errors
		// usually come back early (DS508 Table 9-4 notes).
		learn()
	}
	if len(payload) == 1 {
		st := payload[0]
		switch {
		case st == StatusWake || st == StatusWatchdog || st == StatusCRC:
			return nil, &StatusError{Op: cmd.Name, Status: st}
		case cmd.RawStatus:
			return payload, nil
		case st == StatusOK && cmd.RespLen <= 1:
			return payload, nil
		case st != StatusOK:
			return nil, &StatusError{Op: cmd.Name, Status: st}
		}
	}
	if len(payload) != max(cmd.RespLen, 1) {
		return nil, fmt.Errorf("%s: %w: %d-byte payload, want %d", cmd.Name, ErrFrame, len(payload), cmd.RespLen)
	}
	return payload, nil
}

// await waits for the command to complete and reads the whole response in
// one transaction. learn records the command's completion time; run calls
// it once the answer proves the command did its work. A read of RespLen+3 bytes costs one transaction; the chip
// pads a shorter (status) answer with 0xFF, which ParseResponse ignores.
// Reading the count byte first would cost a second transaction per command
// for no gain, since the expected length is always known.
func (s *Session) await(cmd *Command, buf []byte) (learn func(), err error) {
	t := s.t
	bg := context.Background()
	read := func() error { return t.bus.Tx(t.opts.Addr, nil, buf) }

	if t.opts.Wait == WaitElixir {
		// docs/nerves_key.md §8.1, in whole milliseconds as the Elixir code.
		T := cmd.ElixirT
		if T == 0 {
			T = cmd.Max
		}
		tms := T.Seconds() * 1000
		elapsed := math.Round(tms / 2) // half away from zero, as Elixir's round/1
		_ = t.clk.Sleep(bg, time.Duration(elapsed)*time.Millisecond)
		for {
			err := read()
			if err == nil {
				return func() {}, nil
			}
			if elapsed+2 >= tms {
				return nil, fmt.Errorf("%s: %w after %v (last: %w)", cmd.Name, ErrTimeout, T, err)
			}
			_ = t.clk.Sleep(bg, elixirPoll)
			elapsed += 2
		}
	}

	// Poll from what the chip was seen to do (learn.go), past the table
	// maximum if need be: a command the chip completes before its
	// watchdog puts it to sleep is never given up. The watchdog runs from
	// the last wake, so that bounds the wait (tWATCHDOG max, DS508 Table
	// 8-2); past it the chip is asleep and has lost the command.
	start := t.clk.Now()
	key := keyOf(cmd)
	lt := t.learned[key]
	if lt == nil {
		lt = &opTiming{}
		t.learned[key] = lt
	}
	first, interval := lt.plan(cmd)
	_, learnedHi := lt.bounds()
	if lt.n == 0 {
		learnedHi = cmd.Max
	}
	_ = t.clk.Sleep(bg, first)
	deadline := s.wokeAt.Add(watchdogMax)
	lastNAK := time.Duration(-1)
	for {
		// Times are taken at the start of each read: a long answer takes
		// milliseconds on the wire after the chip was found ready.
		now := t.clk.Now()
		err := read()
		if err == nil {
			got := now.Sub(start)
			return func() { lt.observe(got, lastNAK) }, nil
		}
		now = t.clk.Now()
		// Any error counts as busy: Linux adapters report a NAK as
		// ENXIO or EREMOTEIO, and nothing else distinguishes it.
		if !now.Before(deadline) {
			return nil, fmt.Errorf("%s: %w after %v (last: %w)", cmd.Name, ErrTimeout, now.Sub(start), err)
		}
		lastNAK = now.Sub(start) // late by the NAKed read's wire time only: a few bit times
		if lastNAK > learnedHi {
			// Slower than anything seen: back off geometrically, so a
			// much slower chip costs a few polls, not hundreds.
			interval = min(interval*growthNum/growthDen, maxPoll)
		}
		_ = t.clk.Sleep(bg, min(interval, deadline.Sub(now)))
	}
}
