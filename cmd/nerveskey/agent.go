package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/nerveskey/nerveskey"
)

const agentUsage = `Usage: nerveskey agent --socket PATH [--foreign]

Serves the chip's key to OpenSSH programs (ssh, ssh-add, ssh-keygen -Y
sign, git SSH signing) as an SSH agent on the unix socket PATH, which is
created with mode 0600. The agent offers one key, the chip's slot 0 key,
as ecdsa-sha2-nistp256; it lists and signs, and answers the protocol's
failure to add, remove, lock and unlock. It prints the SSH_AUTH_SOCK
assignment on stdout once the socket listens, runs until SIGINT or
SIGTERM, and then removes the socket. The chip is shared with other
nerveskey processes through the library's lock file. See docs/agent.md for
a systemd service and git signing.

Examples:

	$ nerveskey agent --socket $XDG_RUNTIME_DIR/nerveskey.sock &
	$ export SSH_AUTH_SOCK=$XDG_RUNTIME_DIR/nerveskey.sock
	$ ssh-add -L > device.pub
	$ ssh-keygen -Y sign -f device.pub -n file firmware.bin
	$ ssh support@tunnel.example.com
`

func (c *cli) agent(args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	socket := fs.String("socket", "", "listen on the unix socket `PATH` (required)")
	foreign := fs.Bool("foreign", false, "serve slot 0 of a chip that is not a NervesKey, if its configuration allows external signatures")
	if _, err := c.parse(fs, agentUsage, args, 0, 0); err != nil {
		return err
	}
	if *socket == "" {
		return usagef("agent", "agent: --socket is required")
	}
	return c.withSigningKey(*foreign, func(s *session, k *nerveskey.Key) error {
		a, err := newChipAgent(c.ctx, k)
		if err != nil {
			return err
		}
		ln, err := listenPrivate(*socket)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		// x/crypto/ssh/agent logs every refused request through the
		// standard logger; make those lines look like ours.
		log.SetOutput(c.stderr)
		log.SetFlags(0)
		log.SetPrefix("nerveskey: agent: ")
		fmt.Fprintf(c.stdout, "SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n", *socket)
		fmt.Fprintf(c.stderr, "nerveskey: agent: serving %s on %s\n", a.comment, *socket)
		err = serveAgent(c.ctx, ln, a)
		fmt.Fprintln(c.stderr, "nerveskey: agent: stopped")
		return err
	})
}

// errAgentReadOnly is the refusal of every request that would change the
// agent: its one key lives in the chip.
var errAgentReadOnly = errors.New("the agent holds only the chip's key; it cannot add, remove, lock or unlock keys")

// A chipAgent is an SSH agent offering the chip's key only. It is safe for
// concurrent use: the Key serializes signatures on the bus.
type chipAgent struct {
	ctx     context.Context // bounds every signature
	signer  ssh.Signer      // over ctxSigner{k, ctx}
	pub     ssh.PublicKey
	comment string // "nerveskey-" and the chip serial
}

var _ agent.ExtendedAgent = (*chipAgent)(nil)

// newChipAgent returns an agent serving k, whose signatures are bounded by
// ctx.
func newChipAgent(ctx context.Context, k *nerveskey.Key) (*chipAgent, error) {
	signer, err := ssh.NewSignerFromSigner(ctxSigner{k, ctx})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if t := signer.PublicKey().Type(); t != ssh.KeyAlgoECDSA256 {
		return nil, fmt.Errorf("agent: the chip's key is %s, want %s", t, ssh.KeyAlgoECDSA256)
	}
	in, err := k.Chip().Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &chipAgent{
		ctx:     ctx,
		signer:  signer,
		pub:     signer.PublicKey(),
		comment: "nerveskey-" + hex.EncodeToString(in.Serial[:]),
	}, nil
}

// ctxSigner is a Key whose Sign uses a context (ssh.Signer calls Sign).
type ctxSigner struct {
	k   *nerveskey.Key
	ctx context.Context
}

func (s ctxSigner) Public() crypto.PublicKey { return s.k.Public() }

func (s ctxSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.SignContext(s.ctx, digest, opts)
}

// List returns the chip's key.
func (a *chipAgent) List() ([]*agent.Key, error) {
	return []*agent.Key{{Format: a.pub.Type(), Blob: a.pub.Marshal(), Comment: a.comment}}, nil
}

// Sign signs data with the chip's key if key is the chip's key.
func (a *chipAgent) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	return a.SignWithFlags(key, data, 0)
}

// SignWithFlags is Sign; the flags select RSA hashes and mean nothing for
// ECDSA keys, which OpenSSH's own agent ignores too.
func (a *chipAgent) SignWithFlags(key ssh.PublicKey, data []byte, _ agent.SignatureFlags) (*ssh.Signature, error) {
	if !bytes.Equal(key.Marshal(), a.pub.Marshal()) {
		return nil, errors.New("sign request for a key this agent does not hold")
	}
	sig, err := a.signer.Sign(rand.Reader, data)
	if err != nil {
		return nil, err
	}
	// The signature is handed to another program: check it first.
	if err := a.pub.Verify(data, sig); err != nil {
		return nil, fmt.Errorf("the chip's signature does not verify: %w", err)
	}
	return sig, nil
}

// Signers returns the chip's signer.
func (a *chipAgent) Signers() ([]ssh.Signer, error) { return []ssh.Signer{a.signer}, nil }

// Add refuses: keys cannot be added.
func (a *chipAgent) Add(agent.AddedKey) error { return errAgentReadOnly }

// Remove refuses: the chip's key cannot be removed.
func (a *chipAgent) Remove(ssh.PublicKey) error { return errAgentReadOnly }

// RemoveAll refuses: the chip's key cannot be removed.
func (a *chipAgent) RemoveAll() error { return errAgentReadOnly }

// Lock refuses: the agent has no passphrase lock.
func (a *chipAgent) Lock([]byte) error { return errAgentReadOnly }

// Unlock refuses: the agent has no passphrase lock.
func (a *chipAgent) Unlock([]byte) error { return errAgentReadOnly }

// Extension answers that no extension is supported.
func (a *chipAgent) Extension(string, []byte) ([]byte, error) {
	return nil, agent.ErrExtensionUnsupported
}

// agentDrain bounds the wait for open connections at shutdown; a
// signature in progress stops at its next chip command once ctx is done.
const agentDrain = 5 * time.Second

// serveAgent serves a on ln until ctx is done, then closes ln (removing
// its socket) and every connection, and waits for their handlers, at most
// agentDrain.
func serveAgent(ctx context.Context, ln net.Listener, a agent.Agent) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns = map[net.Conn]bool{}
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	var err error
	for {
		var conn net.Conn
		conn, err = ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			conn.Close()
			break
		}
		conns[conn] = true
		mu.Unlock()
		wg.Go(func() {
			agent.ServeAgent(a, conn) // returns at EOF or on a broken connection
			conn.Close()
			mu.Lock()
			delete(conns, conn)
			mu.Unlock()
		})
	}
	ln.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(agentDrain):
		return errors.New("agent: connections still open after shutdown")
	}
	if ctx.Err() != nil {
		return nil // interrupted: the normal way to stop
	}
	return fmt.Errorf("agent: accept: %w", err)
}
