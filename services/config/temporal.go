package config

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// TemporalSecurity is how the gateway, the worker and the tools authenticate to
// Temporal. Its zero value is the dev server's plain connection. A self-hosted
// cluster behind TLS sets a CA (and, for mutual TLS, a client certificate and key);
// Temporal Cloud takes either a client certificate (mTLS) or an API key, each over
// TLS.
type TemporalSecurity struct {
	// TLS is on when TEMPORAL_TLS says so, or when any of the settings below needs it.
	TLS bool
	// TLSExplicitlyOff records TEMPORAL_TLS=false, which contradicts an API key or
	// a certificate rather than being silently overridden by them.
	TLSExplicitlyOff bool
	CAFile           string
	CertFile         string
	KeyFile          string
	ServerName       string
	// APIKey is a secret: it is never logged nor printed with the configuration.
	APIKey     string
	APIKeyFile string
}

// String hides the API key, so a logged configuration never carries it.
func (s TemporalSecurity) String() string {
	key := ""
	if s.APIKey != "" {
		key = "set"
	}
	return fmt.Sprintf("{TLS:%t CA:%q Cert:%q Key:%q ServerName:%q APIKey:%s}", s.TLS, s.CAFile, s.CertFile, s.KeyFile, s.ServerName, key)
}

// GoString keeps %#v from printing the API key either.
func (s TemporalSecurity) GoString() string { return s.String() }

// fromEnv reads the TEMPORAL_TLS* and TEMPORAL_API_KEY* variables.
func (s *TemporalSecurity) fromEnv() []string {
	var errs []string
	get := func(name string) string { return strings.TrimSpace(os.Getenv(name)) }
	if v := get("TEMPORAL_TLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("TEMPORAL_TLS=%q is not a boolean", v))
		} else {
			s.TLS, s.TLSExplicitlyOff = b, !b
		}
	}
	s.CAFile = get("TEMPORAL_TLS_CA_FILE")
	s.CertFile = get("TEMPORAL_TLS_CERT_FILE")
	s.KeyFile = get("TEMPORAL_TLS_KEY_FILE")
	s.ServerName = get("TEMPORAL_TLS_SERVER_NAME")
	// The key itself is not trimmed of inner characters, only of surrounding space
	// (a file written by `echo` ends with a newline).
	s.APIKey = get("TEMPORAL_API_KEY")
	s.APIKeyFile = get("TEMPORAL_API_KEY_FILE")
	return errs
}

// Temporal namespaces are DNS-like names (Temporal Cloud's are <name>.<account>).
var namespaceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,253}[A-Za-z0-9]$|^[A-Za-z0-9]$`)

// checkTemporal validates the Temporal settings as a whole, reads the API key file
// and turns TLS on where a setting needs it. Files are checked for existence here,
// so a typo fails at start-up with the variable's name, not at the first dial.
func (c *Config) checkTemporal() []string {
	var errs []string
	if host, port, err := net.SplitHostPort(c.TemporalAddress); err != nil || host == "" || port == "" {
		errs = append(errs, fmt.Sprintf("TEMPORAL_ADDRESS=%q is not host:port", c.TemporalAddress))
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		errs = append(errs, fmt.Sprintf("TEMPORAL_ADDRESS=%q has no valid port", c.TemporalAddress))
	}
	if !namespaceName.MatchString(c.TemporalNamespace) {
		errs = append(errs, fmt.Sprintf("TEMPORAL_NAMESPACE=%q is not a namespace name (letters, digits, '.', '-', '_', at most 255, starting and ending with a letter or digit)", c.TemporalNamespace))
	}
	s := &c.Temporal
	file := func(name, path string) {
		if path == "" {
			return
		}
		st, err := os.Stat(path)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("%s=%q cannot be read: %v", name, path, unwrapPath(err)))
		case st.IsDir():
			errs = append(errs, fmt.Sprintf("%s=%q is a folder, not a file", name, path))
		}
	}
	file("TEMPORAL_TLS_CA_FILE", s.CAFile)
	file("TEMPORAL_TLS_CERT_FILE", s.CertFile)
	file("TEMPORAL_TLS_KEY_FILE", s.KeyFile)
	if (s.CertFile == "") != (s.KeyFile == "") {
		errs = append(errs, "TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together: set both for mutual TLS, or neither")
	}
	if s.APIKey != "" && s.APIKeyFile != "" {
		errs = append(errs, "set TEMPORAL_API_KEY or TEMPORAL_API_KEY_FILE, not both")
	}
	if s.APIKeyFile != "" {
		b, err := os.ReadFile(s.APIKeyFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("TEMPORAL_API_KEY_FILE=%q cannot be read: %v", s.APIKeyFile, unwrapPath(err)))
		case strings.TrimSpace(string(b)) == "":
			errs = append(errs, fmt.Sprintf("TEMPORAL_API_KEY_FILE=%q is empty", s.APIKeyFile))
		default:
			s.APIKey = strings.TrimSpace(string(b))
		}
	}
	if s.APIKey != "" && strings.ContainsAny(s.APIKey, " \t\r\n") {
		errs = append(errs, "the Temporal API key contains white space; it is sent as a bearer token and would be refused")
	}
	needsTLS := s.CAFile != "" || s.CertFile != "" || s.ServerName != "" || s.APIKey != ""
	if needsTLS && s.TLSExplicitlyOff {
		var what []string
		for _, w := range []struct {
			set  bool
			name string
		}{
			{s.CAFile != "", "TEMPORAL_TLS_CA_FILE"}, {s.CertFile != "", "TEMPORAL_TLS_CERT_FILE"},
			{s.ServerName != "", "TEMPORAL_TLS_SERVER_NAME"}, {s.APIKey != "", "an API key"},
		} {
			if w.set {
				what = append(what, w.name)
			}
		}
		errs = append(errs, fmt.Sprintf("TEMPORAL_TLS=false contradicts %s, which need TLS (an API key over plain text would be sent in the clear)", strings.Join(what, ", ")))
	} else if needsTLS {
		s.TLS = true
	}
	return errs
}

// unwrapPath drops the path that *PathError repeats, since the message names it.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
