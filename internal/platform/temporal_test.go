package platform

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/services/config"
)

// testPKI is a CA with a server certificate for temporal.internal and a client
// certificate, written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	server                    tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string) ([]byte, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(serial),
			Subject: pkix.Name{CommonName: cn}, DNSNames: dns, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte { b, _ := x509.MarshalECPrivateKey(k); return b }
	srvDER, srvKey := issue(2, "temporal.internal", x509.ExtKeyUsageServerAuth, []string{"temporal.internal"})
	cliDER, cliKey := issue(3, "worker", x509.ExtKeyUsageClientAuth, nil)
	pki := testPKI{
		caFile:   write("ca.pem", "CERTIFICATE", caDER),
		certFile: write("client.pem", "CERTIFICATE", cliDER),
		keyFile:  write("client.key", "EC PRIVATE KEY", keyDER(cliKey)),
		pool:     x509.NewCertPool(),
		server:   tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
	pki.pool.AddCert(ca)
	return pki
}

func TestTemporalOptions_PlainByDefault(t *testing.T) {
	opts, err := TemporalOptions(config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if opts.ConnectionOptions.TLS != nil || opts.Credentials != nil || opts.HostPort != "127.0.0.1:17233" || opts.Namespace != "default" {
		t.Fatalf("default options: %+v", opts)
	}
}

// A mutual-TLS connection built from the settings really completes a handshake
// with a server that requires a client certificate from the CA, under the server
// name the settings give (the dial itself then fails: the listener speaks no gRPC).
func TestTemporalOptions_MutualTLSHandshakesWithTheConfiguredCAAndServerName(t *testing.T) {
	pki := newTestPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool, ClientAuth: tls.RequireAndVerifyClientCert,
		NextProtos: []string{"h2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type seen struct {
		sni    string
		client string
		err    error
	}
	got := make(chan seen, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- seen{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		err = tc.Handshake()
		st := tc.ConnectionState()
		s := seen{sni: st.ServerName, err: err}
		if len(st.PeerCertificates) > 0 {
			s.client = st.PeerCertificates[0].Subject.CommonName
		}
		got <- s
	}()

	cfg := config.Defaults()
	cfg.TemporalAddress = ln.Addr().String()
	cfg.Temporal = config.TemporalSecurity{TLS: true, CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile, ServerName: "temporal.internal"}
	opts, err := TemporalOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if c, err := client.DialContext(ctx, opts); err == nil {
		c.Close()
		t.Fatal("dial succeeded against a listener that speaks no gRPC")
	}
	select {
	case s := <-got:
		if s.err != nil {
			t.Fatalf("handshake failed: %v", s.err)
		}
		if s.sni != "temporal.internal" || s.client != "worker" {
			t.Fatalf("handshake with server name %q and client certificate %q, want temporal.internal and worker", s.sni, s.client)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no TLS connection reached the listener")
	}
}

func TestTemporalOptions_APIKeyGoesOverTLSWithTheAddressHostAsServerName(t *testing.T) {
	cfg := config.Defaults()
	cfg.TemporalAddress = "eu-central-1.aws.api.temporal.io:7233"
	cfg.TemporalNamespace = "orders.a1b2c"
	cfg.Temporal = config.TemporalSecurity{TLS: true, APIKey: "k"}
	opts, err := TemporalOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Credentials == nil || opts.ConnectionOptions.TLS == nil || opts.ConnectionOptions.TLS.ServerName != "eu-central-1.aws.api.temporal.io" ||
		opts.ConnectionOptions.TLS.RootCAs != nil || opts.Namespace != "orders.a1b2c" {
		t.Fatalf("options: %+v tls %+v", opts, opts.ConnectionOptions.TLS)
	}
}

func TestTemporalOptions_UnusableFilesAreRefusedBeforeAnyDial(t *testing.T) {
	pki := newTestPKI(t)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sec  config.TemporalSecurity
		want string
	}{
		{"CA file without PEM", config.TemporalSecurity{TLS: true, CAFile: notPEM}, "holds no PEM certificate"},
		{"key of another certificate", config.TemporalSecurity{TLS: true, CertFile: pki.certFile, KeyFile: pki.caFile}, "are not a certificate and its key"},
		{"certificate file is not PEM", config.TemporalSecurity{TLS: true, CertFile: notPEM, KeyFile: pki.keyFile}, "TEMPORAL_TLS_CERT_FILE="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Temporal = tc.sec
			if _, err := TemporalOptions(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
