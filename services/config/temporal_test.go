package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clearTemporalEnv unsets every TEMPORAL_* variable for the test, so the
// developer's own environment cannot change the outcome.
func clearTemporalEnv(t *testing.T) {
	t.Helper()
	for _, v := range Vars {
		if strings.HasPrefix(v[0], "TEMPORAL_") {
			t.Setenv(v[0], "")
		}
	}
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTemporalSettings_DefaultIsThePlainDevServerConnection(t *testing.T) {
	clearTemporalEnv(t)
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal != (TemporalSecurity{}) || c.TemporalAddress != "127.0.0.1:17233" || c.TemporalNamespace != "default" {
		t.Fatalf("defaults: %s %s %+v", c.TemporalAddress, c.TemporalNamespace, c.Temporal)
	}
}

func TestTemporalSettings_CloudAndClusterShapesParse(t *testing.T) {
	ca := writeFile(t, "ca.pem", "pem")
	cert := writeFile(t, "client.pem", "pem")
	key := writeFile(t, "client.key", "pem")
	keyFile := writeFile(t, "api-key", "  secret-key-123\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want TemporalSecurity
	}{
		{"cloud with an API key turns TLS on", map[string]string{
			"TEMPORAL_ADDRESS": "eu-central-1.aws.api.temporal.io:7233", "TEMPORAL_NAMESPACE": "orders.a1b2c",
			"TEMPORAL_API_KEY": "secret-key-123"},
			TemporalSecurity{TLS: true, APIKey: "secret-key-123"}},
		{"cloud with the API key in a file, trimmed", map[string]string{
			"TEMPORAL_ADDRESS": "orders.a1b2c.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "orders.a1b2c",
			"TEMPORAL_API_KEY_FILE": keyFile},
			TemporalSecurity{TLS: true, APIKey: "secret-key-123", APIKeyFile: keyFile}},
		{"cloud with mutual TLS", map[string]string{
			"TEMPORAL_ADDRESS": "orders.a1b2c.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "orders.a1b2c",
			"TEMPORAL_TLS_CERT_FILE": cert, "TEMPORAL_TLS_KEY_FILE": key},
			TemporalSecurity{TLS: true, CertFile: cert, KeyFile: key}},
		{"a cluster with its own CA and server name", map[string]string{
			"TEMPORAL_ADDRESS": "10.0.0.5:7233", "TEMPORAL_TLS_CA_FILE": ca, "TEMPORAL_TLS_SERVER_NAME": "temporal.internal"},
			TemporalSecurity{TLS: true, CAFile: ca, ServerName: "temporal.internal"}},
		{"TLS with the system's roots", map[string]string{"TEMPORAL_ADDRESS": "temporal.example.com:443", "TEMPORAL_TLS": "true"},
			TemporalSecurity{TLS: true}},
		{"TLS explicitly off and nothing needing it", map[string]string{"TEMPORAL_TLS": "false"},
			TemporalSecurity{TLSExplicitlyOff: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTemporalEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := FromEnv()
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.Temporal != tc.want {
				t.Fatalf("got %#v, want %#v (keys compared too)", c.Temporal, tc.want)
			}
			if c.Temporal.APIKey != tc.want.APIKey {
				t.Fatalf("api key %q, want %q", c.Temporal.APIKey, tc.want.APIKey)
			}
		})
	}
}

func TestTemporalSettings_WrongOnesAreRefusedNamingTheVariable(t *testing.T) {
	cert := writeFile(t, "client.pem", "pem")
	key := writeFile(t, "client.key", "pem")
	empty := writeFile(t, "empty-key", "\n")
	missing := filepath.Join(t.TempDir(), "nope.pem")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"address without port", map[string]string{"TEMPORAL_ADDRESS": "temporal.example.com"}, `TEMPORAL_ADDRESS="temporal.example.com" is not host:port`},
		{"address with a bad port", map[string]string{"TEMPORAL_ADDRESS": "temporal.example.com:99999"}, "has no valid port"},
		{"namespace with a space", map[string]string{"TEMPORAL_NAMESPACE": "my orders"}, `TEMPORAL_NAMESPACE="my orders" is not a namespace name`},
		{"namespace ending in a dot", map[string]string{"TEMPORAL_NAMESPACE": "orders."}, "is not a namespace name"},
		{"namespace too long", map[string]string{"TEMPORAL_NAMESPACE": strings.Repeat("n", 256)}, "is not a namespace name"},
		{"TLS not a boolean", map[string]string{"TEMPORAL_TLS": "yes please"}, `TEMPORAL_TLS="yes please" is not a boolean`},
		{"certificate without key", map[string]string{"TEMPORAL_TLS_CERT_FILE": cert}, "TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together"},
		{"key without certificate", map[string]string{"TEMPORAL_TLS_KEY_FILE": key}, "go together"},
		{"missing CA file", map[string]string{"TEMPORAL_TLS_CA_FILE": missing}, fmt.Sprintf("TEMPORAL_TLS_CA_FILE=%q cannot be read: no such file or directory", missing)},
		{"CA is a folder", map[string]string{"TEMPORAL_TLS_CA_FILE": t.TempDir()}, "is a folder, not a file"},
		{"missing key file", map[string]string{"TEMPORAL_TLS_CERT_FILE": cert, "TEMPORAL_TLS_KEY_FILE": missing}, "TEMPORAL_TLS_KEY_FILE="},
		{"API key with TLS off", map[string]string{"TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": "false"}, "TEMPORAL_TLS=false contradicts an API key"},
		{"certificate with TLS off", map[string]string{"TEMPORAL_TLS_CERT_FILE": cert, "TEMPORAL_TLS_KEY_FILE": key, "TEMPORAL_TLS": "0"}, "contradicts TEMPORAL_TLS_CERT_FILE"},
		{"both API key settings", map[string]string{"TEMPORAL_API_KEY": "k", "TEMPORAL_API_KEY_FILE": cert}, "not both"},
		{"empty API key file", map[string]string{"TEMPORAL_API_KEY_FILE": empty}, "is empty"},
		{"missing API key file", map[string]string{"TEMPORAL_API_KEY_FILE": missing}, "TEMPORAL_API_KEY_FILE="},
		{"API key with white space", map[string]string{"TEMPORAL_API_KEY": "two words"}, "contains white space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTemporalEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := FromEnv()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestTemporalSettings_TheAPIKeyIsNeverPrinted(t *testing.T) {
	clearTemporalEnv(t)
	t.Setenv("TEMPORAL_API_KEY", "very-secret")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.Temporal), fmt.Sprintf("%v", c.Temporal)} {
		if strings.Contains(s, "very-secret") {
			t.Fatalf("the API key leaked into %q", s)
		}
	}
}
