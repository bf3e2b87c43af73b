package httpapi

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"promo/store"
)

// TLS: `promo serve` serves HTTPS only when given a certificate, TLS 1.2 or
// later, with Go's default cipher suites (all with forward secrecy and
// AEAD for 1.2). The admin socket stays plain: it never leaves the machine.

// selfSignedValidity is how long a self-signed certificate is valid: 825
// days is the most Apple's systems accept for a TLS server certificate.
const selfSignedValidity = 825 * 24 * time.Hour

// renewBefore is how long before its end a self-signed certificate is
// renewed (with the same key, so a pinned public key stays valid).
const renewBefore = 30 * 24 * time.Hour

// CertInfo describes a certificate for the people who pin it.
type CertInfo struct {
	// Fingerprint is the SHA-256 of the certificate (DER), in hex pairs
	// separated by colons, as browsers and openssl show it.
	Fingerprint string
	// SPKIPin is the base64 SHA-256 of the public key (SubjectPublicKeyInfo):
	// what Chromium's --ignore-certificate-errors-spki-list and HPKP-style
	// pinning take. It survives a renewal with the same key.
	SPKIPin  string
	NotAfter time.Time
	Names    []string // the DNS names and addresses it is valid for
}

// Describe returns the CertInfo of a parsed certificate.
func Describe(c *x509.Certificate) CertInfo {
	sum := sha256.Sum256(c.Raw)
	hexPairs := make([]string, len(sum))
	for i, b := range sum {
		hexPairs[i] = fmt.Sprintf("%02X", b)
	}
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return CertInfo{Fingerprint: strings.Join(hexPairs, ":"), SPKIPin: base64.StdEncoding.EncodeToString(spki[:]),
		NotAfter: c.NotAfter, Names: names}
}

// TLSConfig returns the server's TLS configuration around certs, which
// returns the certificate for each handshake: TLS 1.2 or later.
func TLSConfig(certs *CertSource) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return certs.current(), nil
		},
	}
}

// CertSource holds the certificate the server presents. Loaded from files
// a shop manages (LoadCertificate), it reads them again when they change
// (checked at most every 10 s), so a renewed certificate is used without
// a restart; a renewal that cannot be read leaves the old one in use and
// is logged.
type CertSource struct {
	certFile, keyFile string
	warn              func(msg string, args ...any)

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' sizes and times when loaded
	checked time.Time
}

// Leaf returns the certificate presented now, parsed.
func (c *CertSource) Leaf() *x509.Certificate { return c.current().Leaf }

func (c *CertSource) current() *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.certFile == "" || time.Since(c.checked) < 10*time.Second {
		return c.cert
	}
	c.checked = time.Now()
	if stamp := fileStamp(c.certFile, c.keyFile); stamp != c.stamp {
		cert, err := loadPair(c.certFile, c.keyFile)
		if err != nil {
			if c.warn != nil {
				c.warn("the TLS certificate changed but cannot be used; serving the previous one", "cert", c.certFile, "err", err)
			}
			c.stamp = stamp // warn once per change
			return c.cert
		}
		c.cert, c.stamp = cert, stamp
	}
	return c.cert
}

func fileStamp(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d %d;", st.Size(), st.ModTime().UnixNano())
		}
	}
	return b.String()
}

// LoadCertificate reads a PEM certificate (with its chain, leaf first) and
// its PEM private key, as `serve --tls-cert FILE --tls-key FILE` names
// them. It returns invalid_request naming the file and what is wrong: not
// readable, not PEM, the key not the certificate's. warn (may be nil) is
// told of renewals that cannot be read later.
func LoadCertificate(certFile, keyFile string, warn func(msg string, args ...any)) (*CertSource, error) {
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &CertSource{certFile: certFile, keyFile: keyFile, warn: warn, cert: cert,
		stamp: fileStamp(certFile, keyFile), checked: time.Now()}, nil
}

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, tlsFileErr("--tls-cert", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, tlsFileErr("--tls-key", keyFile, err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return nil, &store.Error{Code: store.EInvalid, Field: "--tls-cert", Message: fmt.Sprintf("--tls-cert: %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", certFile)}
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return nil, &store.Error{Code: store.EInvalid, Field: "--tls-key", Message: fmt.Sprintf("--tls-key: %s holds no PEM private key (-----BEGIN PRIVATE KEY-----)", keyFile)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &store.Error{Code: store.EInvalid, Field: "--tls-key",
			Message: fmt.Sprintf("--tls-key: %s and %s are not a certificate and its key: %v", keyFile, certFile, err)}
	}
	return &cert, nil
}

func tlsFileErr(flag, path string, err error) error {
	why := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		why = pe.Err.Error()
	}
	return &store.Error{Code: store.EInvalid, Field: flag, Message: fmt.Sprintf("%s: cannot read %s: %s", flag, path, why), Err: err}
}

// SelfSigned is what SelfSignedCertificate did.
type SelfSigned struct {
	CertFile, KeyFile string
	Made              bool     // a new key and certificate
	Renewed           bool     // a new certificate for the kept key: the SPKI pin is unchanged
	Tightened         bool     // the key file's mode was wider than 0600 and was set to 0600
	Missing           []string // names or addresses of this machine the certificate lacks
}

// SelfSignedPaths returns where `serve --tls-self-signed` keeps the
// certificate and key of the database at db.
func SelfSignedPaths(db string) (certFile, keyFile string) { return db + ".tls.crt", db + ".tls.key" }

// SelfSignedCertificate returns the self-signed certificate kept beside
// the database at db (FILE.tls.crt, FILE.tls.key, both mode 0600). On
// first use it makes an ECDSA P-256 key and a certificate for this
// machine's names and addresses (MachineNames); later it reuses them,
// renewing the certificate with the same key when it ends within 30 days
// or no longer matches the key. A key file that exists but cannot be read
// is an error: it is never silently replaced, since tills pin it.
func SelfSignedCertificate(db string, now time.Time) (*CertSource, SelfSigned, error) {
	var out SelfSigned
	out.CertFile, out.KeyFile = SelfSignedPaths(db)
	key, err := readKey(out.KeyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, out, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, out, err
		}
		if err := writeFileAtomic(out.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, out, err
		}
		out.Made = true
	case err != nil:
		return nil, out, &store.Error{Code: store.EInvalid, Field: "--tls-self-signed", Err: err,
			Message: fmt.Sprintf("--tls-self-signed: cannot use the key in %s (%v); tills may pin it, so it is not replaced: restore it, or move %s and %s away to make a new certificate (tills must then pin the new one)",
				out.KeyFile, err, out.KeyFile, out.CertFile)}
	default:
		if st, err := os.Stat(out.KeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(out.KeyFile, 0o600); err == nil {
				out.Tightened = true
			}
		}
	}
	names := MachineNames()
	leaf, err := readCert(out.CertFile)
	if out.Made || err != nil || !samePublicKey(leaf, key) || leaf.NotAfter.Sub(now) < renewBefore {
		der, err := makeCert(key, names, now)
		if err != nil {
			return nil, out, err
		}
		if err := writeFileAtomic(out.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
			return nil, out, err
		}
		out.Renewed = !out.Made
		if leaf, err = x509.ParseCertificate(der); err != nil {
			return nil, out, err
		}
	}
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			out.Missing = append(out.Missing, n)
		}
	}
	cert := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	return &CertSource{cert: cert}, out, nil
}

func samePublicKey(c *x509.Certificate, key *ecdsa.PrivateKey) bool {
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("not a PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, not ECDSA", k)
	}
	return ek, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func makeCert(key *ecdsa.PrivateKey, names []string, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "promo on " + firstOr(host, "localhost"), Organization: []string{"promo (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
}

// MachineNames returns the names and addresses a till may use to reach this
// machine: "localhost", the host name, 127.0.0.1, ::1 and the address of
// every network interface (link-local ones left out: no till is
// configured with those).
func MachineNames() []string {
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, strings.ToLower(h))
	}
	ips := []string{"127.0.0.1", "::1"}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() && !n.IP.IsLinkLocalMulticast() {
				if s := n.IP.String(); !slices.Contains(ips, s) {
					ips = append(ips, s)
				}
			}
		}
	}
	return append(names, ips...)
}

// writeFileAtomic writes a file of mode 0600 beside path and renames it into
// place, so a crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("cannot write %s: %v", path, err), Err: err}
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("cannot write %s: %v", path, err), Err: err}
	}
	return nil
}
