package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// BenchmarkAgentSign compares a signature through the agent socket (an
// x/crypto agent client, as ssh would ask) with a direct Key.Sign on the
// same simulated 608A. bus-ms/op is the modeled chip and bus time;
// host-ms/op is the wall time the process spent (protocol, SSH encoding,
// the agent's verification of the signature, and the simulator itself);
// their sum, total-ms/op, estimates the latency a client sees.
func BenchmarkAgentSign(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "608a.json"))
	if err != nil {
		b.Fatal(err)
	}
	im, err := nerveskeytest.ParseImage(data)
	if err != nil {
		b.Fatal(err)
	}
	chip, err := nerveskeytest.NewChipFromImage(im, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer chip.Close()
	ctx := b.Context()
	k, err := nerveskey.Open(ctx, chip, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	report := func(b *testing.B, start time.Time) {
		st := chip.Stats()
		n := float64(b.N)
		bus := float64(st.BusTime.Microseconds()) / 1000 / n
		host := float64(time.Since(start).Microseconds()) / 1000 / n
		b.ReportMetric(bus, "bus-ms/op")
		b.ReportMetric(host, "host-ms/op")
		b.ReportMetric(bus+host, "total-ms/op")
		b.ReportMetric(float64(st.Transactions)/n, "i2c-tx/op")
	}

	b.Run("direct", func(b *testing.B) {
		d := sha256.Sum256([]byte("direct"))
		chip.ResetStats()
		start := time.Now()
		for b.Loop() {
			if _, err := k.SignContext(ctx, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
		report(b, start)
	})

	b.Run("agent", func(b *testing.B) {
		a, err := newChipAgent(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		sock := filepath.Join(b.TempDir(), "agent.sock")
		ln, err := listenPrivate(sock)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		sctx, stop := context.WithCancel(ctx)
		go func() { done <- serveAgent(sctx, ln, a) }()
		defer func() { stop(); <-done }()
		c, err := net.Dial("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		client := agent.NewClient(c)
		msg := []byte("agent")
		chip.ResetStats()
		start := time.Now()
		for b.Loop() {
			if _, err := client.Sign(a.pub, msg); err != nil {
				b.Fatal(err)
			}
		}
		report(b, start)
	})
}
