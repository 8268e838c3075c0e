package cert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

type chipVector struct {
	Name            string `json:"name"`
	Slot0PrivateKey string `json:"slot0_private_key"`
	Image           struct {
		Config string            `json:"config"`
		Slots  map[string]string `json:"slots"`
	} `json:"image"`
	Elixir struct {
		ManufacturerSN     string `json:"manufacturer_sn"`
		HasAux             bool   `json:"has_aux"`
		DeviceCertValid    string `json:"device_cert_valid"`
		DeviceCertElixir   string `json:"device_cert_elixir"`
		DeviceSigQuirk     bool   `json:"device_sig_quirk"`
		SignerCertOriginal string `json:"signer_cert_original"`
		SignerCertElixir   string `json:"signer_cert_elixir"`
		SignerSigQuirk     bool   `json:"signer_sig_quirk"`
	} `json:"elixir"`
	Aux struct {
		DeviceCertValid    string `json:"aux_device_cert_valid"`
		DeviceCertElixir   string `json:"aux_device_cert_elixir"`
		DeviceSigQuirk     bool   `json:"aux_device_sig_quirk"`
		SignerCertOriginal string `json:"aux_signer_cert_original"`
		SignerCertElixir   string `json:"aux_signer_cert_elixir"`
		SignerSigQuirk     bool   `json:"aux_signer_sig_quirk"`
	} `json:"aux"`
}

func loadChips(t testing.TB) []chipVector {
	t.Helper()
	data, err := os.ReadFile("../../../testdata/elixir-chips.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []chipVector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

func writePEM(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyChain checks device under signer with crypto/x509 and openssl.
func verifyChain(t *testing.T, deviceDER, signerDER []byte) {
	t.Helper()
	signer, err := x509.ParseCertificate(signerDER)
	if err != nil {
		t.Fatalf("parse signer: %v", err)
	}
	device, err := x509.ParseCertificate(deviceDER)
	if err != nil {
		t.Fatalf("parse device: %v", err)
	}
	if err := device.CheckSignatureFrom(signer); err != nil {
		t.Fatalf("device signature: %v", err)
	}
	if err := signer.CheckSignature(signer.SignatureAlgorithm, signer.RawTBSCertificate, signer.Signature); err != nil {
		t.Fatalf("signer self-signature: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(signer)
	// Verify at a time inside both validities.
	at := signer.NotBefore.Add(time.Hour)
	if device.NotBefore.After(at) {
		at = device.NotBefore.Add(time.Hour)
	}
	if _, err := device.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("x509 verify: %v", err)
	}
	openssl := testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	sp, dp := writePEM(t, dir, "signer.pem", signerDER), writePEM(t, dir, "device.pem", deviceDER)
	out, err := exec.Command(openssl, "verify", "-partial_chain", "-attime", big.NewInt(at.Unix()).String(),
		"-CAfile", sp, dp).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(": OK")) {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

func chipSN(t *testing.T, config []byte) [9]byte {
	t.Helper()
	var sn [9]byte
	copy(sn[:4], config[0:4])
	copy(sn[4:], config[8:13])
	return sn
}

func TestElixirChips(t *testing.T) {
	for _, v := range loadChips(t) {
		t.Run(v.Name, func(t *testing.T) {
			priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), testutil.Unhex(t, v.Slot0PrivateKey))
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := priv.PublicKey.Bytes()
			deviceXY := pub[1:]
			sn := chipSN(t, testutil.Unhex(t, v.Image.Config))
			slot := func(n string) []byte { return testutil.Unhex(t, v.Image.Slots[n]) }

			type set struct {
				name                                          string
				devSlot, pubSlot, signerSlot                  string
				devValid, devElixir, signerOrig, signerElixir string
				devQuirk, signerQuirk                         bool
			}
			sets := []set{{"primary", "10", "11", "12", v.Elixir.DeviceCertValid, v.Elixir.DeviceCertElixir,
				v.Elixir.SignerCertOriginal, v.Elixir.SignerCertElixir, v.Elixir.DeviceSigQuirk, v.Elixir.SignerSigQuirk}}
			if v.Elixir.HasAux {
				sets = append(sets, set{"aux", "9", "14", "15", v.Aux.DeviceCertValid, v.Aux.DeviceCertElixir,
					v.Aux.SignerCertOriginal, v.Aux.SignerCertElixir, v.Aux.DeviceSigQuirk, v.Aux.SignerSigQuirk})
			}
			for _, s := range sets {
				t.Run(s.name, func(t *testing.T) {
					signerXY := slot(s.pubSlot)[:64]
					dc, err := ParseCompressed(slot(s.devSlot))
					if err != nil {
						t.Fatalf("parse device slot: %v", err)
					}
					sc, err := ParseCompressed(slot(s.signerSlot))
					if err != nil {
						t.Fatalf("parse signer slot: %v", err)
					}
					dev, err := NervesKeyDevice(dc, deviceXY, signerXY, sn, v.Elixir.ManufacturerSN)
					if err != nil {
						t.Fatal(err)
					}
					sig, err := NervesKeySigner(sc, signerXY)
					if err != nil {
						t.Fatal(err)
					}
					if want := testutil.Unhex(t, s.devValid); !bytes.Equal(dev, want) {
						t.Errorf("device cert:\n got %x\nwant %x\n%v", dev, want, Compare(want, dev))
					}
					if want := testutil.Unhex(t, s.signerOrig); !bytes.Equal(sig, want) {
						t.Errorf("signer cert:\n got %x\nwant %x\n%v", sig, want, Compare(want, sig))
					}
					if dc.ElixirQuirk() != s.devQuirk || sc.ElixirQuirk() != s.signerQuirk {
						t.Errorf("ElixirQuirk = %v/%v, want %v/%v", dc.ElixirQuirk(), sc.ElixirQuirk(), s.devQuirk, s.signerQuirk)
					}
					for _, c := range []struct{ name, der, want string }{{"device", s.devValid, s.devElixir}, {"signer", s.signerOrig, s.signerElixir}} {
						got, err := ElixirDER(testutil.Unhex(t, c.der))
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, testutil.Unhex(t, c.want)) {
							t.Errorf("ElixirDER(%s) != %s_elixir", c.name, c.name)
						}
					}
					// Compressing what Elixir rebuilt (quirk included) and what was signed
					// gives back the slots.
					for _, c := range []struct {
						der, slot string
						tmpl      Template
					}{{s.devValid, s.devSlot, NervesKeyDeviceTemplate}, {s.devElixir, s.devSlot, NervesKeyDeviceTemplate},
						{s.signerOrig, s.signerSlot, NervesKeySignerTemplate}, {s.signerElixir, s.signerSlot, NervesKeySignerTemplate}} {
						cc, err := Compress(testutil.Unhex(t, c.der), c.tmpl)
						if err != nil {
							t.Fatal(err)
						}
						m, _ := cc.Marshal()
						if !bytes.Equal(m, slot(c.slot)) {
							t.Errorf("Compress(%v) = %x, slot %s = %x", c.tmpl, m, c.slot, slot(c.slot))
						}
					}
					sc509, err := x509.ParseCertificate(sig)
					if err != nil {
						t.Fatal(err)
					}
					if err := CheckSigner(sc509); err != nil {
						t.Errorf("CheckSigner: %v", err)
					}
					verifyChain(t, dev, sig)
				})
			}
		})
	}
}

// Fixtures from testdata/nerves_key_ref.py (nerves_key data_test.exs, the
// volatile-key livemd, atecc508a's Trust&Go test).
var (
	nkSignerDER = "308201a73082014da00302010202105e3d6d0a3e9471e6d6f4acf2310b96a3300a06082a8648ce3d0403023011310f300d06035504030c065369676e6572301e170d3138313230343230303030305a170d3139313230343230303030305a3011310f300d06035504030c065369676e65723059301306072a8648ce3d020106082a8648ce3d0301070342000405a7ec6fead4b64dfe9cfaece432002588ff2b07e0d9b7ae65df5a7344faa99e2e0b34958e76fa7b342f5d03d4780ab60996f7280258e77a96b05bd564d3e4c1a3818630818330120603551d130101ff040830060101ff020100300e0603551d0f0101ff040403020186301d0603551d250416301406082b0601050507030106082b06010505070302301d0603551d0e0416041434fe694551016a91ec7503cef21063e2f523062f301f0603551d2304183016801434fe694551016a91ec7503cef21063e2f523062f300a06082a8648ce3d04030203480030450221008b971b54fc061cb4db8e35781343e4e37a528ff3def1e6b3961ae4066828ee8d02204d20347879b518cc14121d4f599f06a205356d49b4d35e66e1c22b03250f3b26"
	nkSignerXY  = "05a7ec6fead4b64dfe9cfaece432002588ff2b07e0d9b7ae65df5a7344faa99e2e0b34958e76fa7b342f5d03d4780ab60996f7280258e77a96b05bd564d3e4c1"
	nkSlot12    = "8b971b54fc061cb4db8e35781343e4e37a528ff3def1e6b3961ae4066828ee8d4d20347879b518cc14121d4f599f06a205356d49b4d35e66e1c22b03250f3b26961281000010a000"
	lmSignerXY  = "72270f1a7b21170788f172c4c283287cbc26b9215ec868e906216ba79284e6161d7a52401d0091b7769411862a28071979f800debdc30590f7883d270b199c77"
	lmSlot12    = "090fd03f9109ada6d1a0fb3d17a8894776c4ce5db482a18174256c75e03d74a5dfb602c06da42e8c6baadeb89371bd13f15b00d5acb078087d3ec459bde55289c24d61000010a000"
	lmSignerB64 = "MIIBpzCCAU2gAwIBAgIQc3p50MJrn1hkMJ20b6c6cjAKBggqhkjOPQQDAjARMQ8wDQYDVQQDDAZTaWduZXIwHhcNMjQwNDE5MTEwMDAwWhcNMjUwNDE5MTEwMDAwWjARMQ8wDQYDVQQDDAZTaWduZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARyJw8aeyEXB4jxcsTCgyh8vCa5IV7IaOkGIWunkoTmFh16UkAdAJG3dpQRhiooBxl5+ADevcMFkPeIPScLGZx3o4GGMIGDMBIGA1UdEwEB/wQIMAYBAf8CAQAwDgYDVR0PAQH/BAQDAgGGMB0GA1UdJQQWMBQGCCsGAQUFBwMBBggrBgEFBQcDAjAdBgNVHQ4EFgQU32moIyTaiQOONSkBK3EUTXXn9kEwHwYDVR0jBBgwFoAU32moIyTaiQOONSkBK3EUTXXn9kEwCgYIKoZIzj0EAwIDSAAwRQIgCQ/QP5EJrabRoPs9F6iJR3bEzl20gqGBdCVsdeA9dKUCIQDftgLAbaQujGuq3riTcb0T8VsA1ayweAh9PsRZveVSiQ=="
	tngSlot10   = "e197aa26d2d0ac94ab4decc230554f5611cd53ae24ad1ae2737ea2d69ecaa2ad25d05c0e6ea51c603e5a5b84e04cab5126c6bdb37c8906a159606c3482b024afa5ac9c2c0030a000"
	tngSlot11   = "000000002eba1b2ad0b73e4e44725e0c09348d4092a08bd7a8b7619bfdc7a56eb2054bdc00000000a338f00dc64dec1d84b4b36ec62426bd4c9340244fa853e235d053c05df67ef4"
	tngSlot12   = "ecc949988f619130b9277322958cfda97d9b0a8cb8f37894bcc473e9d47a40872123d5a2566b89a159bc8a8de52283ce16b5337b2a2599afe4d75efa073ed611963a9f2c0010a000"
	tngDevXY    = "d330b8b2ede4d502df48b54a2f29cc79f901e594fd6bf92deb6d187ac77f2dbbb160279a4a20a7e6e3507f973aad43919bef2d1c99b29c153323dfcd99106769"
	tngSN       = "0123a23f29f9366a01"
	tngMAC      = "E8EB1B202027"
	tngDevDER   = "3082021f308201c5a00302010202105f235abdb72bed34b43772e79d40c11c300a06082a8648ce3d040302304f3121301f060355040a0c184d6963726f6368697020546563686e6f6c6f677920496e63312a302806035504030c2143727970746f2041757468656e7469636174696f6e205369676e657220324330303020170d3230313131313034303030305a180f32303438313131313034303030305a30423121301f060355040a0c184d6963726f6368697020546563686e6f6c6f677920496e63311d301b06035504030c14736e3031323341323346323946393336364130313059301306072a8648ce3d020106082a8648ce3d03010703420004d330b8b2ede4d502df48b54a2f29cc79f901e594fd6bf92deb6d187ac77f2dbbb160279a4a20a7e6e3507f973aad43919bef2d1c99b29c153323dfcd99106769a3818d30818a302a0603551d1104233021a41f301d311b30190603550405131265756934385f453845423142323032303237300c0603551d130101ff04023000300e0603551d0f0101ff040403020388301d0603551d0e0416041497b749e690438f36a9fafc6092479f2816bac9b8301f0603551d230418301680140f621ff44ab590d34d04c1f37df612cb5bb5ed34300a06082a8648ce3d0403020348003045022100e197aa26d2d0ac94ab4decc230554f5611cd53ae24ad1ae2737ea2d69ecaa2ad022025d05c0e6ea51c603e5a5b84e04cab5126c6bdb37c8906a159606c3482b024af"
	// Microchip Crypto Authentication Root CA 002, X‖Y (docs/nerves_key.md §7.6).
	tngRootXY = "bd54e66de3875484006b53ae1580d50aa069e78adf5578d85ce2d54dd5b830296bffdd6e6f7256fbd99ef1a116b11d33ad49103aa1858739dcfae437e19d634e"
)

func mustParseCompressed(t testing.TB, b []byte) *Compressed {
	t.Helper()
	c, err := ParseCompressed(b)
	if err != nil {
		t.Fatalf("ParseCompressed(%x): %v", b, err)
	}
	return c
}

func TestNervesKeySignerFixtures(t *testing.T) {
	lm, _ := base64.StdEncoding.DecodeString(lmSignerB64)
	for _, f := range []struct {
		name          string
		slot, xy, der []byte
	}{
		{"data_test.exs", testutil.Unhex(t, nkSlot12), testutil.Unhex(t, nkSignerXY), testutil.Unhex(t, nkSignerDER)},
		{"livemd", testutil.Unhex(t, lmSlot12), testutil.Unhex(t, lmSignerXY), lm},
	} {
		t.Run(f.name, func(t *testing.T) {
			got, err := NervesKeySigner(mustParseCompressed(t, f.slot), f.xy)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, f.der) {
				t.Fatalf("rebuild differs: %v", Compare(f.der, got))
			}
			c, err := Compress(f.der, NervesKeySignerTemplate)
			if err != nil {
				t.Fatal(err)
			}
			if m, _ := c.Marshal(); !bytes.Equal(m, f.slot) {
				t.Fatalf("Compress = %x, want %x", m, f.slot)
			}
			cert, err := x509.ParseCertificate(got)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignatureFrom(cert); err != nil {
				t.Fatalf("self-signature: %v", err)
			}
			if err := CheckSigner(cert); err != nil {
				t.Fatalf("CheckSigner: %v", err)
			}
		})
	}
}

func TestTrustAndGoFixtures(t *testing.T) {
	slot11 := testutil.Unhex(t, tngSlot11)
	signerXY := append(append([]byte{}, slot11[4:36]...), slot11[40:72]...)
	sn := [9]byte(testutil.Unhex(t, tngSN))
	dc := mustParseCompressed(t, testutil.Unhex(t, tngSlot10))
	dev, err := TrustAndGoDevice(dc, testutil.Unhex(t, tngDevXY), signerXY, sn, tngMAC)
	if err != nil {
		t.Fatal(err)
	}
	want := testutil.Unhex(t, tngDevDER)
	if !bytes.Equal(dev, want) { // 547 bytes (0x21f of content)
		t.Fatalf("Trust&Go device differs: %v", Compare(want, dev))
	}
	c, err := Compress(want, TrustAndGoDeviceTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := c.Marshal(); !bytes.Equal(m, testutil.Unhex(t, tngSlot10)) {
		t.Fatalf("Compress(device) = %x", m)
	}

	sc := mustParseCompressed(t, testutil.Unhex(t, tngSlot12))
	signer, err := TrustAndGoSigner(sc, signerXY)
	if err != nil {
		t.Fatal(err)
	}
	signerCert, err := x509.ParseCertificate(signer)
	if err != nil {
		t.Fatal(err)
	}
	if signerCert.Subject.CommonName != "Crypto Authentication Signer 2C00" {
		t.Errorf("signer CN %q", signerCert.Subject.CommonName)
	}
	root, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, testutil.Unhex(t, tngRootXY)...))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(signerCert.RawTBSCertificate)
	if !ecdsa.VerifyASN1(root, digest[:], signerCert.Signature) {
		t.Fatal("rebuilt Trust&Go signer does not verify under Root CA 002")
	}
	if !bytes.Equal(signerCert.AuthorityKeyId, testutil.Unhex(t, "7aed7d6dc6b7789db23801a5e84a8cb0a40e2a8c")) {
		t.Errorf("AKI %x", signerCert.AuthorityKeyId)
	}
	if c, err := Compress(signer, TrustAndGoSignerTemplate); err != nil {
		t.Fatal(err)
	} else if m, _ := c.Marshal(); !bytes.Equal(m, testutil.Unhex(t, tngSlot12)) {
		t.Fatalf("Compress(signer) = %x", m)
	}
	deviceCert, err := x509.ParseCertificate(dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := deviceCert.CheckSignatureFrom(signerCert); err != nil {
		t.Fatalf("device under signer: %v", err)
	}
	// Trust&Go notAfter is GeneralizedTime even before 2050.
	if !bytes.Contains(signer, []byte("\x18\x0f20491214200000Z")) {
		t.Errorf("signer notAfter %v is not GeneralizedTime 20491214200000Z", signerCert.NotAfter)
	}
}

func TestSerialVectors(t *testing.T) {
	dev := SerialFromDeviceSN([9]byte{}, [3]byte{})
	pk := SerialFromPublicKey(make([]byte, 64), [3]byte{})
	for _, c := range []struct {
		got  [16]byte
		want string
	}{
		{dev, "114212275507497809804692595957010019923"},
		{pk, "122136849383167108807819891765977662465"},
		{SerialFromPublicKey(testutil.Unhex(t, nkSignerXY), [3]byte{0x96, 0x12, 0x81}), "0x5e3d6d0a3e9471e6d6f4acf2310b96a3"},
	} {
		want, _ := new(big.Int).SetString(c.want, 0)
		if got := new(big.Int).SetBytes(c.got[:]); got.Cmp(want) != 0 {
			t.Errorf("serial %v, want %v", got, want)
		}
	}
}
