package httpapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store"
)

func TestSelfSignedCertificate_MadeOnceThenKept(t *testing.T) {
	db := filepath.Join(t.TempDir(), "promo.db")
	now := time.Now()
	certs, made, err := SelfSignedCertificate(db, now)
	require.NoError(t, err)
	require.True(t, made.Made)
	require.Equal(t, db+".tls.crt", made.CertFile)
	require.Equal(t, db+".tls.key", made.KeyFile)
	for _, f := range []string{made.CertFile, made.KeyFile} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	leaf := certs.Leaf()
	require.IsType(t, &ecdsa.PublicKey{}, leaf.PublicKey)
	require.Equal(t, elliptic.P256(), leaf.PublicKey.(*ecdsa.PublicKey).Curve)
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", "127.0.0.1", "::1", strings.ToLower(host)} {
		require.NoError(t, leaf.VerifyHostname(name), name)
	}
	require.Empty(t, made.Missing)
	require.Contains(t, leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	require.WithinDuration(t, now.Add(825*24*time.Hour), leaf.NotAfter, time.Minute)
	first := Describe(leaf)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	require.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), first.SPKIPin)
	require.Len(t, first.Fingerprint, 32*3-1)

	certs, made, err = SelfSignedCertificate(db, now.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, made.Made || made.Renewed, "a later start keeps it")
	require.Equal(t, first, Describe(certs.Leaf()))

	// Near its end the certificate is renewed with the same key: the pin
	// tills hold stays good.
	certs, made, err = SelfSignedCertificate(db, now.Add(800*24*time.Hour))
	require.NoError(t, err)
	require.True(t, made.Renewed)
	renewed := Describe(certs.Leaf())
	require.Equal(t, first.SPKIPin, renewed.SPKIPin)
	require.NotEqual(t, first.Fingerprint, renewed.Fingerprint)

	// A key file others may read is tightened.
	require.NoError(t, os.Chmod(made.KeyFile, 0o644))
	_, made, err = SelfSignedCertificate(db, now)
	require.NoError(t, err)
	require.True(t, made.Tightened)
	st, _ := os.Stat(made.KeyFile)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// A damaged key is never silently replaced: tills pin it.
	require.NoError(t, os.WriteFile(made.KeyFile, []byte("garbage"), 0o600))
	_, _, err = SelfSignedCertificate(db, now)
	require.Equal(t, store.EInvalid, store.ErrorCode(err))
	require.Contains(t, store.ErrorMessage(err), "is not replaced")
	b, _ := os.ReadFile(made.KeyFile)
	require.Equal(t, "garbage", string(b))
}

// writeCert writes a certificate for names signed by its own key, and the
// key, as a shop's own certificate would come (PEM files).
func writeCert(t *testing.T, dir string, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

func TestLoadCertificate_SaysWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "shop.example")
	other := t.TempDir()
	_, otherKey := writeCert(t, other, "other.example")
	notPEM := filepath.Join(dir, "notpem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	for _, tc := range []struct{ cert, key, want string }{
		{filepath.Join(dir, "missing.pem"), keyFile, "--tls-cert: cannot read " + filepath.Join(dir, "missing.pem") + ": no such file or directory"},
		{certFile, filepath.Join(dir, "missing.pem"), "--tls-key: cannot read"},
		{notPEM, keyFile, "holds no PEM certificate"},
		{certFile, notPEM, "holds no PEM private key"},
		{certFile, otherKey, "are not a certificate and its key"},
	} {
		_, err := LoadCertificate(tc.cert, tc.key, nil)
		require.Equal(t, store.EInvalid, store.ErrorCode(err), tc.want)
		require.Contains(t, store.ErrorMessage(err), tc.want)
	}
	certs, err := LoadCertificate(certFile, keyFile, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"shop.example"}, certs.Leaf().DNSNames)

	// A renewed certificate is picked up; a broken renewal keeps the old one.
	writeCert(t, dir, "renewed.example")
	certs.checked = time.Time{}
	require.Equal(t, []string{"renewed.example"}, certs.Leaf().DNSNames)
	require.NoError(t, os.WriteFile(keyFile, []byte("half-written"), 0o600))
	var warned []string
	certs.warn = func(msg string, _ ...any) { warned = append(warned, msg) }
	certs.checked = time.Time{}
	require.Equal(t, []string{"renewed.example"}, certs.Leaf().DNSNames)
	require.Len(t, warned, 1)
}

// serveTLS serves st over HTTPS on 127.0.0.1 with certs, until the test
// ends; it returns the address and the socket path.
func serveTLS(t *testing.T, st *store.Store, certs *CertSource) (addr, socket string) {
	t.Helper()
	ready := make(chan string, 1)
	socket = filepath.Join(t.TempDir(), "promo.db.sock")
	srv := New(st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TLS: TLSConfig(certs),
		OnReady: func(a net.Addr, _ string) { ready <- a.String() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, "127.0.0.1:0", socket) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return addr, socket
}

func TestServe_TLS_HTTPSOnly_TLS12OrLater(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "promo.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	certs, _, err := SelfSignedCertificate(filepath.Join(t.TempDir(), "promo.db"), time.Now())
	require.NoError(t, err)
	addr, socket := serveTLS(t, st, certs)
	pool := x509.NewCertPool()
	pool.AddCert(certs.Leaf())
	_, port, _ := net.SplitHostPort(addr)

	for _, host := range []string{"127.0.0.1", "localhost"} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := hc.Get("https://" + net.JoinHostPort(host, port) + "/healthz")
		require.NoError(t, err, host)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version)
		resp.Body.Close()
	}
	for _, v := range []uint16{tls.VersionTLS12} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: v, ServerName: "localhost"})
		require.NoError(t, err, "TLS 1.2 is served")
		conn.Close()
	}
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		_, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: v, MaxVersion: v, ServerName: "localhost"})
		require.Error(t, err, "TLS version %x is refused", v)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode, "plain HTTP is not served")
	require.Contains(t, string(b), "HTTP request to an HTTPS server")

	c, err := Dial(socket)
	require.NoError(t, err, "the admin socket stays plain")
	_, err = c.Campaigns()
	require.NoError(t, err)
	c.Close()
}
