package i2c

import "time"

// Fits reports whether commands whose maximum execution times are maxes,
// run one after the other from now, end within this wake cycle's
// [WatchdogBudget], with the poll margin Execute allows each: then Execute
// runs them without a Refresh. A caller that shares one wake cycle among
// several sequences (signatures queued by several goroutines) asks it
// before each sequence.
func (s *Session) Fits(maxes ...time.Duration) bool {
	d := s.t.clk.Now().Sub(s.wokeAt)
	for _, m := range maxes {
		d += m + pollMargin
	}
	return d <= WatchdogBudget
}

// Retryable reports whether err is transient: [Transport.Do] runs a
// session again after it.
func Retryable(err error) bool { return retryable(err) }
