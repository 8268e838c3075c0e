package nerveskey_test

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestSSHClientAuth shows that ssh.NewSignerFromSigner over the chip key
// lets a device log in to a support server with it: an in-process
// x/crypto/ssh server that accepts only the device public key runs a
// command for the client.
func TestSSHClientAuth(t *testing.T) {
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A} {
		t.Run(rev.String(), func(t *testing.T) {
			k, chip := newTestKey(t, rev)
			signer, err := ssh.NewSignerFromSigner(k)
			if err != nil {
				t.Fatal(err)
			}
			if got := signer.PublicKey().Type(); got != ssh.KeyAlgoECDSA256 {
				t.Fatalf("key type %s, want %s", got, ssh.KeyAlgoECDSA256)
			}
			devicePub, err := ssh.NewPublicKey(k.Public())
			if err != nil {
				t.Fatal(err)
			}
			addr, logins := startSSHServer(t, devicePub)

			if chip != nil { // nil on hardware
				chip.ResetStats()
			}
			client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
				User:            "device",
				Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
				HostKeyCallback: ssh.InsecureIgnoreHostKey(), // the test server's key is throwaway
			})
			if err != nil {
				t.Fatalf("ssh login with the chip key: %v", err)
			}
			defer client.Close()
			sess, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			out, err := sess.Output("whoami")
			if err != nil || string(out) != "device\n" {
				t.Fatalf("exec: %q %v", out, err)
			}
			if n := simStats(chip).Commands; chip != nil && n != 2 {
				t.Errorf("login ran %d chip commands, want Nonce + Sign", n)
			}
			if n := logins(); n != 1 {
				t.Errorf("%d logins accepted", n)
			}
		})
	}
}

// TestSSHServerRejectsOtherKey checks the server used above refuses a
// key it was not given, so the login test can fail.
func TestSSHServerRejectsOtherKey(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	signer, err := ssh.NewSignerFromSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	other := newServerCert(t) // any other P-256 key
	otherPub, _ := ssh.NewPublicKey(other.cert.Leaf.PublicKey)
	addr, _ := startSSHServer(t, otherPub)
	_, err = ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: "device", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	})
	if err == nil {
		t.Fatal("server accepted a key it does not know")
	}
}

// startSSHServer runs an SSH server on loopback that accepts public-key
// logins with authorized only, and answers "exec whoami" with the user.
// It returns its address and a count of accepted logins.
func startSSHServer(t *testing.T, authorized ssh.PublicKey) (string, func() int) {
	t.Helper()
	hostSigner, err := ssh.NewSignerFromKey(newServerCert(t).cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex // guards logins
		logins int
	)
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if !bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, errors.New("unknown key")
			}
			mu.Lock()
			logins++
			mu.Unlock()
			return nil, nil
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, ln, func(c net.Conn) { serveSSH(c, cfg) })
	return addr, func() int {
		mu.Lock()
		defer mu.Unlock()
		return logins
	}
}

func serveSSH(c net.Conn, cfg *ssh.ServerConfig) {
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
		go func() {
			defer ch.Close()
			for req := range in {
				// An exec payload is the command as an SSH string.
				if req.Type != "exec" || len(req.Payload) < 4 || string(req.Payload[4:]) != "whoami" {
					req.Reply(false, nil)
					continue
				}
				req.Reply(true, nil)
				ch.Write([]byte(conn.User() + "\n"))
				ch.SendRequest("exit-status", false, []byte{0, 0, 0, 0})
				return
			}
		}()
	}
}
