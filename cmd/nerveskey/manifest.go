package main

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nerveskey/nerveskey"
)

// A manifestRecord is one line of "provision --manifest FILE": the record
// a factory keeps for each chip it provisions, to register the device
// with its cloud. Lines are JSON objects, one per chip and run that
// reported success.
type manifestRecord struct {
	ManufacturerSN   string `json:"manufacturer_sn"`    // OTP serial number, the device certificate's CN
	Serial           string `json:"serial"`             // 9-byte chip serial, hex
	BoardName        string `json:"board_name"`         // OTP board name
	Revision         string `json:"revision"`           // e.g. "ATECC608B"
	PublicKey        string `json:"public_key"`         // device public key, PEM "PUBLIC KEY"
	DeviceCert       string `json:"device_cert"`        // device certificate, PEM
	SignerCertSHA256 string `json:"signer_cert_sha256"` // SHA-256 of the signer certificate's DER, hex
	ProvisionedAt    string `json:"provisioned_at"`     // when the run ended, RFC 3339 UTC
	Status           string `json:"status"`             // "provisioned", "resumed" or "already_provisioned"
}

// A provisioned is what a manifest line is made from: the fields of the
// library's provisioning result that the manifest records.
type provisioned struct {
	Status         string // "provisioned", "resumed" or "already_provisioned"
	Serial         [9]byte
	Revision       string
	ManufacturerSN string
	BoardName      string
	PublicKey      *ecdsa.PublicKey
	DeviceCert     *x509.Certificate
	SignerCert     *x509.Certificate
}

// newManifestRecord makes the record of p at time at.
func newManifestRecord(p provisioned, at time.Time) (*manifestRecord, error) {
	if p.Status == "" || p.PublicKey == nil || p.DeviceCert == nil || p.SignerCert == nil {
		return nil, errors.New("manifest: the provisioning result lacks the key or a certificate")
	}
	pub, err := x509.MarshalPKIXPublicKey(p.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	sum := sha256.Sum256(p.SignerCert.Raw)
	return &manifestRecord{
		ManufacturerSN:   p.ManufacturerSN,
		Serial:           hex.EncodeToString(p.Serial[:]),
		BoardName:        p.BoardName,
		Revision:         p.Revision,
		PublicKey:        string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		DeviceCert:       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.DeviceCert.Raw})),
		SignerCertSHA256: hex.EncodeToString(sum[:]),
		ProvisionedAt:    at.UTC().Format(time.RFC3339),
		Status:           p.Status,
	}, nil
}

// A manifest is a manifest file open for appending.
//
// Each record is appended with a single write(2) on a descriptor opened
// with O_APPEND, then fsynced. On a local file system this makes each
// line whole even when several station processes on one host append to
// the same file at once: the kernel moves to the end and writes in one
// step. On network file systems (NFS, SMB) O_APPEND is emulated by the
// client and lines from different hosts can overwrite or interleave; give
// each station its own manifest there and merge them.
type manifest struct {
	path    string
	f       *os.File // nil for a dry run
	created bool     // the file did not exist before openManifest
}

// openManifest checks that path can be appended to before any chip is
// touched. For a dry run nothing is created: an existing file is opened
// for writing and closed, a new one's directory is probed with a
// temporary file. Otherwise the file is opened (created mode 0644 if
// missing) for appending.
func openManifest(path string, dryRun bool) (*manifest, error) {
	if path == "" {
		return nil, nil
	}
	_, statErr := os.Stat(path)
	missing := errors.Is(statErr, fs.ErrNotExist)
	if dryRun {
		if missing {
			f, err := os.CreateTemp(filepath.Dir(path), ".nerveskey-manifest-probe-*")
			if err != nil {
				return nil, fmt.Errorf("manifest %s: cannot be created: %w", path, err)
			}
			f.Close()
			os.Remove(f.Name())
			return &manifest{path: path}, nil
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		f.Close()
		return &manifest{path: path}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("manifest %s: not a regular file", path)
	}
	return &manifest{path: path, f: f, created: missing}, nil
}

// append writes r as one line, in one write, and syncs it to disk.
func (m *manifest) append(r *manifestRecord) error {
	if m == nil || m.f == nil {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	line = append(line, '\n')
	n, err := m.f.Write(line)
	if err == nil && n != len(line) {
		err = fmt.Errorf("short write (%d of %d bytes)", n, len(line))
	}
	if err == nil {
		err = m.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("manifest %s: %w", m.path, err)
	}
	return nil
}

// close closes the file; if failed and close created it, it is removed
// while still empty, so a run that provisioned nothing leaves nothing.
func (m *manifest) close(failed bool) {
	if m == nil || m.f == nil {
		return
	}
	if failed && m.created {
		if fi, err := m.f.Stat(); err == nil && fi.Size() == 0 {
			os.Remove(m.path)
		}
	}
	m.f.Close()
}

// provisionedFromResult is what the manifest records of Provision's
// result.
func provisionedFromResult(res *nerveskey.ProvisionResult) provisioned {
	if res == nil {
		return provisioned{}
	}
	status := map[nerveskey.ProvisionStatus]string{
		nerveskey.Provisioned:        "provisioned",
		nerveskey.Resumed:            "resumed",
		nerveskey.AlreadyProvisioned: "already_provisioned",
	}[res.Status]
	return provisioned{
		Status: status, Serial: res.Serial, Revision: res.Revision,
		ManufacturerSN: res.ManufacturerSN, BoardName: res.BoardName,
		PublicKey: res.PublicKey, DeviceCert: res.DeviceCert, SignerCert: res.SignerCert,
	}
}

// deviceNotAfter is when the device certificate Provision signs expires:
// 31 whole years from the hour it is issued (docs/nerves_key.md §7).
func deviceNotAfter(pp *nerveskey.ProvisionPlan) time.Time {
	return pp.IssuedAt.UTC().Truncate(time.Hour).AddDate(31, 0, 0)
}

// warnSignerExpiry warns when the signer expires before the device
// certificates it signs, as a default one-year signer does.
func (c *cli) warnSignerExpiry(p *plan) {
	// Both are RFC 3339 in UTC, so they compare as strings.
	if p.SignerNotAfter >= p.DeviceNotAfter {
		return
	}
	fmt.Fprintf(c.stderr, "nerveskey: warning: the signer expires on %s, before the device certificate (%s); servers that verify the whole chain (openssl verify, mosquitto, most TLS servers) refuse the device from then on; see 'nerveskey signer create --help'\n",
		p.SignerNotAfter[:10], p.DeviceNotAfter[:10])
}
