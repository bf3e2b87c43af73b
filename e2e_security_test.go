//go:build unix

package main

// Security as a user meets it: one API key's failed lookups never slow
// another's, the logs name routes and never codes, free text refuses
// control characters and CSV exports defuse spreadsheet formulas, and
// HTTPS with a self-signed or an own certificate.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBinary_OneKeyNeverLocksOutAnother: till A floods wrong guesses from
// 127.0.0.1; till B, with its own key at the same address, redeems all 25
// of its codes meanwhile. Rotating X-Forwarded-For through a trusted
// proxy gives A no fresh bucket. The server's log names routes, never a
// code, and takes the client's address from a trusted proxy only.
//
// At the time of writing this failed: an empty per-address bucket refused
// every key at that address (0 of B's 25 redemptions succeeded).
func TestBinary_OneKeyNeverLocksOutAnother(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCLI("campaign", "create", "g", "--kind", "generic", "--percent", "10")
	e.mustCLI("generate", "g", "--count", "25")
	tillA, tillB := e.key("till-a", "pos"), e.key("till-b", "pos")
	codes := e.codes("g")
	// A short --guess-delay: the default 500 ms would add 20 s to this test.
	// One failed lookup a minute once the burst is spent, not the default
	// 20: at one every 3 s, a loaded machine that took more than 3 s over
	// both loops gave till A a fresh token, and its next guess a 404.
	srv := e.start("--trusted-proxy", "127.0.0.1", "--trusted-proxy", "10.0.0.0/8", "--guess-delay", "20ms", "--guess-rate", "1")

	limited := 0
	for i := range 60 {
		r := srv.do(t, "POST", "/v1/validate", tillA, redeemReq{Code: fmt.Sprintf("GUESS%05d", i)},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		if r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	// 20 once the burst of 40 is spent, less one for every minute the loop took.
	require.GreaterOrEqual(t, limited, 15, "after its burst, till A is slowed whatever its X-Forwarded-For")
	for _, c := range codes {
		r := srv.do(t, "POST", "/v1/redeem", tillA, redeemReq{Code: "NOPE-" + c.Code[:4]})
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
		srv.mustRedeem(t, tillB, redeemReq{Code: c.Code, Terminal: "till-b"})
	}
	srv.stop(t)

	logs := srv.logText()
	for _, c := range codes[:5] {
		require.NotContains(t, logs, c.Code)
		require.NotContains(t, logs, strings.ReplaceAll(c.Code, "-", ""))
	}
	require.NotContains(t, logs, "GUESS00001")
	require.Contains(t, logs, `route="POST /v1/redeem"`)
	require.Contains(t, logs, "remote=198.51.100.59", "a trusted proxy's X-Forwarded-For names the client")
	require.NotContains(t, logs, tillA)
}

// TestBinary_TextFieldsAndSpreadsheets: text that would steer a terminal
// or a spreadsheet is refused or neutralised, naming the flag.
func TestBinary_TextFieldsAndSpreadsheets(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	res := e.cli("campaign", "create", "x", "--name", "Sale\x1b[2J\x1b[31mFREE", "--percent", "10")
	require.Equal(t, 2, res.code, "%s", res)
	require.Contains(t, res.stderr, "--name: must not contain control characters")
	require.NotContains(t, res.stderr, "\x1b")
	e.mustCLI("campaign", "create", "w", "--name", "Welcome", "--kind", "generic", "--percent", "10")
	res = e.cli("assign", "w", "--customer", "ann\u202egnp.exe")
	require.Equal(t, 2, res.code, "%s", res)
	require.Contains(t, res.stderr, "--customer: must not contain control characters, line separators or bidirectional controls; found U+202E")

	e.mustCLI("assign", "w", "--customer", `=HYPERLINK("http://evil.example","Click")`)
	e.mustCLI("assign", "w", "--customer", "-42")
	out := e.mustCLI("export", "w")
	require.Contains(t, out, `"'=HYPERLINK(""http://evil.example"",""Click"")"`)
	require.Contains(t, out, ",'-42,")
	var rows []codeJSON
	for _, l := range lines(e.mustCLI("--json", "export", "w")) {
		var c codeJSON
		require.NoError(t, json.Unmarshal([]byte(l), &c))
		rows = append(rows, c)
	}
	require.Equal(t, "-42", rows[1].CustomerID, "JSON exports are never changed")
}

// certLines are what serve prints about its certificate.
var (
	fingerprintLine = regexp.MustCompile(`SHA-256 fingerprint  ([0-9A-F:]{95})`)
	pinLine         = regexp.MustCompile(`public key pin       (\S+)  \(SPKI SHA-256, base64; Chromium: --ignore-certificate-errors-spki-list=(\S+)\)`)
)

// servedCert connects to the server and returns the certificate it
// presents, trusting nothing but the handshake.
func servedCert(t *testing.T, s *server) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.url, "https://"), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func fingerprints(c *x509.Certificate) (hexColons, spki string) {
	sum := sha256.Sum256(c.Raw)
	pairs := make([]string, len(sum))
	for i, b := range sum {
		pairs[i] = fmt.Sprintf("%02X", b)
	}
	pin := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return strings.Join(pairs, ":"), base64.StdEncoding.EncodeToString(pin[:])
}

// TestBinary_TLSSelfSigned: --tls-self-signed makes a certificate on first
// start (files 0600 beside the database), prints the fingerprint and pin
// of the very certificate it serves, serves HTTPS only, keeps the socket
// plain, and reuses the certificate on the next start.
//
// At the time of writing this failed: serve had no TLS at all.
func TestBinary_TLSSelfSigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCLI("campaign", "create", "g", "--kind", "generic", "--percent", "10")
	e.mustCLI("generate", "g", "--count", "2")
	till := e.key("till", "pos")
	srv := e.start("--tls-self-signed")
	require.True(t, strings.HasPrefix(srv.url, "https://"), srv.url)
	log := srv.logText()
	require.Contains(t, log, "(self-signed, made now: pin it on every till;")
	for _, f := range []string{e.db + ".tls.crt", e.db + ".tls.key"} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	fp, pin := fingerprints(servedCert(t, srv))
	require.Equal(t, fp, fingerprintLine.FindStringSubmatch(log)[1], "the fingerprint printed is the certificate served")
	m := pinLine.FindStringSubmatch(log)
	require.Equal(t, []string{pin, pin}, m[1:])
	require.NotContains(t, log, "serving plain HTTP")

	code := e.codes("g")[0].Code
	srv.mustRedeem(t, till, redeemReq{Code: code, Terminal: "till-1"})
	plain, err := http.Get("http://" + strings.TrimPrefix(srv.url, "https://") + "/healthz")
	require.NoError(t, err)
	plain.Body.Close()
	require.Equal(t, http.StatusBadRequest, plain.StatusCode, "no plain HTTP on the TLS port")
	require.Contains(t, e.mustCLI("code", code), "redeemed", "the admin socket stays plain")
	srv.stop(t)

	srv = e.start("--tls-self-signed")
	require.Contains(t, srv.logText(), "(self-signed, kept from an earlier start;")
	again, againPin := fingerprints(servedCert(t, srv))
	require.Equal(t, fp, again, "the same certificate on the next start")
	require.Equal(t, pin, againPin)
}

// TestBinary_TLSOwnCertificate: a shop's own certificate and key serve
// HTTPS; a plain-HTTP server on every interface warns that keys travel in
// clear, one on loopback does not.
func TestBinary_TLSOwnCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCLI("campaign", "create", "g", "--kind", "generic", "--percent", "10")
	certFile, keyFile := filepath.Join(e.dir, "shop.crt"), filepath.Join(e.dir, "shop.key")
	writeShopCert(t, certFile, keyFile)
	srv := e.start("--tls-cert", certFile, "--tls-key", keyFile)
	srv.trust(t, certFile)
	r := srv.do(t, "GET", "/healthz", "", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	fp, _ := fingerprints(servedCert(t, srv))
	require.Contains(t, srv.logText(), "promo: TLS certificate "+certFile+" (valid until ")
	require.Equal(t, fp, fingerprintLine.FindStringSubmatch(srv.logText())[1])
	srv.stop(t)

	srv = e.start()
	require.NotContains(t, srv.logText(), "warning: serving plain HTTP", "loopback only: nothing crosses a network")
	srv.stop(t)
	srv = e.start("--addr", ":0")
	require.Contains(t, srv.logText(), "promo: warning: serving plain HTTP on :0 (every interface): API keys and codes cross the network in clear")
}

// writeShopCert writes a certificate for localhost and 127.0.0.1 and its key.
func writeShopCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "shop till server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
}
