package i2c

// Fits reports whether cmds, run one after the other from now, end
// within this wake cycle's [WatchdogBudget] at the times Execute expects
// of them (the table maximum, or longer on a chip seen to be slower), with
// the poll margin Execute allows each: then Execute runs them without a
// Refresh. A caller that shares one wake cycle among several sequences
// (signatures queued by several goroutines) asks it before each sequence.
func (s *Session) Fits(cmds ...*Command) bool {
	d := s.t.clk.Now().Sub(s.wokeAt)
	for _, c := range cmds {
		d += s.t.learned[keyOf(c)].expected(c) + pollMargin
	}
	return d <= WatchdogBudget
}

// Retryable reports whether err is transient: [Transport.Do] runs a
// session again after it.
func Retryable(err error) bool { return retryable(err) }
