package nerveskey

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
)

// CertificateRequest returns a PKCS #10 certificate signing request in
// DER for the chip's key, signed by the chip with ECDSA-SHA256, for a CA
// to issue a certificate from: the way to get a certificate for a chip
// configured by others (see [Chip.ForeignKey]), or an externally signed
// aux certificate. template is as for [x509.CreateCertificateRequest];
// its SignatureAlgorithm must be zero or ECDSAWithSHA256. The request is
// checked against the chip's public key before it is returned.
func (k *Key) CertificateRequest(ctx context.Context, template *x509.CertificateRequest) ([]byte, error) {
	der, err := k.certificateRequest(ctx, template)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: certificate request: %w", err)
	}
	return der, nil
}

func (k *Key) certificateRequest(ctx context.Context, template *x509.CertificateRequest) ([]byte, error) {
	if template == nil {
		return nil, errors.New("nil template")
	}
	if a := template.SignatureAlgorithm; a != x509.UnknownSignatureAlgorithm && a != x509.ECDSAWithSHA256 {
		return nil, fmt.Errorf("signature algorithm %v: the chip signs ECDSA-SHA256 only", a)
	}
	t := *template
	t.SignatureAlgorithm = x509.ECDSAWithSHA256
	der, err := x509.CreateCertificateRequest(rand.Reader, &t, contextSigner{k, ctx})
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the chip's signature does not verify: %w", err)
	}
	return der, nil
}
