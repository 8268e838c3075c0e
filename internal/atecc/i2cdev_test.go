package atecc

import (
	"testing"

	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestI2CDev runs provisioning and signing on the simulator's Linux
// i2c-dev mode (wake and NAKs are plain errno errors, no speed changes)
// on every revision and timing. CI also runs the whole driver suite with
// NERVESKEYTEST_I2CDEV=1 (.ci/run).
func TestI2CDev(t *testing.T) {
	for _, rv := range simRevisions {
		for _, tm := range []nerveskeytest.TimingMode{nerveskeytest.TimingTypical, nerveskeytest.TimingRandom} {
			t.Run(rv.name+"/"+tm.String(), func(t *testing.T) {
				t.Parallel()
				provisionAndSign(t, &nerveskeytest.Options{Revision: rv.sim, Timing: tm, Seed: 12, I2CDev: true})
			})
		}
	}
}
