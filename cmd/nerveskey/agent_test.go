package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/nerveskey/nerveskey/internal/testutil"
)

// lockedBuffer is a bytes.Buffer safe for a process to write while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A runningAgent is a "nerveskey agent" process.
type runningAgent struct {
	sock   string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error // the result of cmd.Wait
}

// startAgent runs "nerveskey --sim img agent" on a socket in dir and
// waits for its ready line (at most 30 s). t.Cleanup kills it if the test
// has not stopped it.
func startAgent(t *testing.T, dir, img string) *runningAgent {
	t.Helper()
	a := &runningAgent{sock: filepath.Join(dir, "agent.sock"), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	a.cmd = exec.Command(binary, "--sim", img, "agent", "--socket", a.sock)
	a.cmd.Stderr = a.stderr
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
		a.done <- a.cmd.Wait()
	}()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.done
	})
	select {
	case line := <-ready:
		if want := "SSH_AUTH_SOCK=" + a.sock + "; export SSH_AUTH_SOCK;\n"; line != want {
			t.Fatalf("agent ready line %q, want %q; stderr:\n%s", line, want, a.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent not ready after 30 s; stderr:\n%s", a.stderr)
	}
	return a
}

// stop sends sig and waits (at most 30 s) for a clean exit.
func (a *runningAgent) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		if err != nil {
			t.Errorf("agent after %v: %v; stderr:\n%s", sig, err, a.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent still running 30 s after %v", sig)
	}
}

// env returns the environment for OpenSSH clients of the agent.
func (a *runningAgent) env() []string {
	return append(os.Environ(), "SSH_AUTH_SOCK="+a.sock)
}

// chipSSHKey returns the chip's public key as "nerveskey pubkey" prints
// it, in SSH form.
func chipSSHKey(t *testing.T, dir, img string) ssh.PublicKey {
	t.Helper()
	r := ok(t, dir, "", "--sim", img, "pubkey")
	b, _ := pem.Decode([]byte(r.stdout))
	if b == nil {
		t.Fatalf("pubkey printed no PEM: %q", r.stdout)
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub.(*ecdsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// runTool runs an OpenSSH program with the agent's environment and
// returns its combined output and error.
func (a *runningAgent) runTool(dir, stdin, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = a.env()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestAgentOpenSSH serves a simulated chip with "nerveskey agent" and
// uses it with OpenSSH's own programs: ssh-add lists exactly the chip's
// key and cannot change the agent, ssh-keygen -Y sign signs through it
// from several processes at once and ssh-keygen -Y verify accepts each
// signature (and rejects a changed message), and after SIGTERM the socket
// is gone.
func TestAgentOpenSSH(t *testing.T) {
	testutil.NeedTool(t, "ssh-add")
	testutil.NeedTool(t, "ssh-keygen")
	dir := t.TempDir()
	img := copyFile(t, dir, "608a.json")
	pub := chipSSHKey(t, dir, img)
	a := startAgent(t, dir, img)

	fi, err := os.Lstat(a.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}

	out, err := a.runTool(dir, "", "ssh-add", "-L")
	if err != nil {
		t.Fatalf("ssh-add -L: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want+" nerveskey-") {
		t.Fatalf("ssh-add -L = %q, want one line %q with a nerveskey- comment", out, want)
	}
	pubFile := filepath.Join(dir, "device.pub")
	if err := os.WriteFile(pubFile, []byte(lines[0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Deleting keys gets the protocol's failure, and the key stays.
	if out, err := a.runTool(dir, "", "ssh-add", "-D"); err == nil {
		t.Errorf("ssh-add -D succeeded: %s", out)
	}
	if out, err := a.runTool(dir, "", "ssh-add", "-d", pubFile); err == nil {
		t.Errorf("ssh-add -d succeeded: %s", out)
	}

	// Several ssh-keygen processes sign at the same time.
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("device@example "+want+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const procs = 4
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for i := range procs {
		wg.Go(func() {
			msg := filepath.Join(dir, fmt.Sprintf("msg%d", i))
			if err := os.WriteFile(msg, fmt.Appendf(nil, "firmware image %d\n", i), 0o644); err != nil {
				errs[i] = err
				return
			}
			if out, err := a.runTool(dir, "", "ssh-keygen", "-Y", "sign", "-f", pubFile, "-n", "file", msg); err != nil {
				errs[i] = fmt.Errorf("ssh-keygen -Y sign: %v\n%s", err, out)
			}
		})
	}
	// Meanwhile another nerveskey process signs with the same chip.
	direct := nk(t, dir, "direct", "--sim", img, "sign")
	wg.Wait()
	if direct.code != 0 {
		t.Fatalf("nerveskey sign beside the agent: exit %d: %s", direct.code, direct.stderr)
	}
	sig, err := hex.DecodeString(strings.TrimSpace(direct.stdout))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("direct"))
	if !ecdsa.VerifyASN1(pub.(ssh.CryptoPublicKey).CryptoPublicKey().(*ecdsa.PublicKey), d[:], sig) {
		t.Error("the other process's signature does not verify")
	}
	for i := range procs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		msg := filepath.Join(dir, fmt.Sprintf("msg%d", i))
		data := string(readFile(t, msg))
		verify := func(data string) (string, error) {
			return a.runTool(dir, data, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "device@example", "-n", "file", "-s", msg+".sig")
		}
		if out, err := verify(data); err != nil {
			t.Errorf("ssh-keygen -Y verify of signature %d: %v\n%s", i, err, out)
		}
		if out, err := verify(data + "x"); err == nil {
			t.Errorf("ssh-keygen -Y verify accepted signature %d over a changed message: %s", i, out)
		}
	}

	a.stop(t, syscall.SIGTERM)
	if _, err := os.Lstat(a.sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after SIGTERM: %v, want it removed", err)
	}
}

// TestAgentProtocol talks to the agent with x/crypto's client from many
// goroutines at once: every signature verifies, and add, remove, lock and
// unlock get the protocol's failure. SIGINT stops it cleanly too.
func TestAgentProtocol(t *testing.T) {
	dir := t.TempDir()
	img := copyFile(t, dir, "508a-aux.json")
	pub := chipSSHKey(t, dir, img)
	a := startAgent(t, dir, img)

	dial := func(t *testing.T) agent.ExtendedAgent {
		c, err := net.Dial("unix", a.sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return agent.NewClient(c)
	}
	ac := dial(t)
	keys, err := ac.List()
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Marshal(), pub.Marshal()) {
		t.Fatalf("List = %v, %v; want the chip's key only", keys, err)
	}
	if err := ac.Add(agent.AddedKey{PrivateKey: newTestP256(t)}); err == nil {
		t.Error("Add succeeded")
	}
	if err := ac.Remove(pub); err == nil {
		t.Error("Remove succeeded")
	}
	if err := ac.RemoveAll(); err == nil {
		t.Error("RemoveAll succeeded")
	}
	if err := ac.Lock([]byte("pw")); err == nil {
		t.Error("Lock succeeded")
	}
	if err := ac.Unlock([]byte("pw")); err == nil {
		t.Error("Unlock succeeded")
	}
	other, _ := ssh.NewPublicKey(&newTestP256(t).PublicKey)
	if _, err := ac.Sign(other, []byte("x")); err == nil {
		t.Error("Sign with a key the agent does not hold succeeded")
	}

	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		c := dial(t)
		wg.Go(func() {
			data := fmt.Appendf(nil, "session %d", i)
			sig, err := c.Sign(pub, data)
			if err != nil {
				t.Errorf("Sign %d: %v", i, err)
				return
			}
			if err := pub.Verify(data, sig); err != nil {
				t.Errorf("signature %d does not verify: %v", i, err)
			}
		})
	}
	wg.Wait()
	if keys, err := ac.List(); err != nil || len(keys) != 1 {
		t.Errorf("List after refused changes = %d keys, %v", len(keys), err)
	}

	a.stop(t, os.Interrupt)
	if _, err := os.Lstat(a.sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after SIGINT: %v, want it removed", err)
	}
}

// TestAgentSocketRefused checks the agent never replaces a file that is
// not a socket, nor a socket another agent listens on.
func TestAgentSocketRefused(t *testing.T) {
	dir := t.TempDir()
	img := copyFile(t, dir, "608a.json")
	p := filepath.Join(dir, "agent.sock")
	if err := os.WriteFile(p, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkError(t, nk(t, dir, "", "--sim", img, "agent", "--socket", p), exitFailed, "not a socket")
	if string(readFile(t, p)) != "keep" {
		t.Error("the file was changed")
	}
	os.Remove(p)
	startAgent(t, dir, img)
	checkError(t, nk(t, dir, "", "--sim", img, "agent", "--socket", p), exitFailed, "another agent")
	checkError(t, nk(t, dir, "", "--sim", img, "agent"), exitUsage, "--socket")
}

func newTestP256(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAgentSSHLogin logs in with OpenSSH's ssh client through the agent:
// to a loopback x/crypto/ssh server that accepts only the chip's key, and
// to OpenSSH's sshd when it is installed.
func TestAgentSSHLogin(t *testing.T) {
	testutil.NeedTool(t, "ssh")
	dir := t.TempDir()
	img := copyFile(t, dir, "608a.json")
	pub := chipSSHKey(t, dir, img)
	a := startAgent(t, dir, img)
	sshArgs := func(port int, user string) []string {
		return []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-p", fmt.Sprint(port), user + "@127.0.0.1", "whoami"}
	}

	t.Run("go-server", func(t *testing.T) {
		port := startGoSSHServer(t, pub)
		out, err := a.runTool(dir, "", "ssh", sshArgs(port, "device")...)
		if err != nil || out != "device\n" {
			t.Fatalf("ssh login through the agent: %v\n%s", err, out)
		}
		other, _ := ssh.NewPublicKey(&newTestP256(t).PublicKey)
		port = startGoSSHServer(t, other)
		if out, err := a.runTool(dir, "", "ssh", sshArgs(port, "device")...); err == nil {
			t.Fatalf("server that knows another key let the chip's key in: %s", out)
		}
	})
	t.Run("sshd", func(t *testing.T) {
		sshd := "/usr/sbin/sshd"
		if p, err := exec.LookPath("sshd"); err == nil {
			sshd = p
		}
		if _, err := os.Stat(sshd); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("sshd not installed")
			}
			t.Skip("skipping: sshd not installed; .ci/run installs openssh-server")
		}
		port, user := startSSHD(t, sshd, dir, pub)
		out, err := a.runTool(dir, "", "ssh", sshArgs(port, user)...)
		if err != nil || out != user+"\n" {
			t.Fatalf("ssh login to sshd through the agent: %v\n%s", err, out)
		}
	})
}

// startGoSSHServer serves SSH on loopback, accepting public-key logins
// with authorized only and answering "exec whoami" with the user name.
// It returns the port.
func startGoSSHServer(t *testing.T, authorized ssh.PublicKey) int {
	t.Helper()
	host, err := ssh.NewSignerFromKey(newTestP256(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if !bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, errors.New("unknown key")
			}
			return nil, nil
		},
	}
	cfg.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serveWhoami(c, cfg) })
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func serveWhoami(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, in, err := nc.Accept()
		if err != nil {
			return
		}
		for req := range in {
			if req.Type != "exec" || len(req.Payload) < 4 || string(req.Payload[4:]) != "whoami" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			ch.Write([]byte(conn.User() + "\n"))
			ch.SendRequest("exit-status", false, []byte{0, 0, 0, 0})
			ch.Close()
		}
	}
}

// startSSHD runs OpenSSH's sshd in the foreground on a free loopback port
// with a configuration that accepts only pub for the current user, and
// returns the port and the user name.
func startSSHD(t *testing.T, sshd, dir string, pub ssh.PublicKey) (int, string) {
	t.Helper()
	user := os.Getenv("USER")
	if out, err := exec.Command("id", "-un").Output(); err == nil {
		user = strings.TrimSpace(string(out))
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen host key: %v\n%s", err, out)
	}
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, ssh.MarshalAuthorizedKey(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf("ListenAddress 127.0.0.1:%d\nHostKey %s\nAuthorizedKeysFile %s\nPidFile none\n"+
		"StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"+
		"UsePAM no\nPermitRootLogin prohibit-password\nAllowUsers %s\n", port, hostKey, auth, user)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("/run/sshd", 0o755) // privilege separation directory; sshd refuses to start without it
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	logs := &lockedBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if strings.Contains(sc.Text(), "Server listening") {
				select {
				case ready <- true:
				default:
				}
			}
		}
		close(ready)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); pw.Close() })
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("sshd exited:\n%s", logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("sshd not listening after 30 s:\n%s", logs)
	}
	return port, user
}
