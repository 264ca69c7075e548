package platform

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/masscustom/orchestrator/services/config"
)

// TemporalOptions are the client options for cfg: the dev server's plain connection
// by default; TLS with a custom CA and server name for a self-hosted cluster; a
// client certificate (mutual TLS) or an API key for Temporal Cloud. Every file is
// read and parsed here, so a wrong one fails with its variable's name before any
// dial.
func TemporalOptions(cfg config.Config) (client.Options, error) {
	opts := client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    tlog.NewStructuredLogger(slog.Default().With("component", "temporal")),
	}
	s := cfg.Temporal
	if !s.TLS {
		return opts, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
	if tc.ServerName == "" {
		if host, _, err := net.SplitHostPort(cfg.TemporalAddress); err == nil {
			tc.ServerName = host
		}
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return client.Options{}, fmt.Errorf("TEMPORAL_TLS_CA_FILE=%q: %w", s.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return client.Options{}, fmt.Errorf("TEMPORAL_TLS_CA_FILE=%q holds no PEM certificate", s.CAFile)
		}
		tc.RootCAs = pool
	}
	if s.CertFile != "" || s.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return client.Options{}, fmt.Errorf("TEMPORAL_TLS_CERT_FILE=%q and TEMPORAL_TLS_KEY_FILE=%q are not a certificate and its key: %w", s.CertFile, s.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	opts.ConnectionOptions.TLS = tc
	if s.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(s.APIKey)
	}
	return opts, nil
}
