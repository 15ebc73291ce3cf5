package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, cn string) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca testCA) crl(t *testing.T, nextUpdate time.Duration) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(nextUpdate), RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(42), RevocationTime: time.Now()}}},
		ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// fakeAPI is the part of the Kubernetes API the command uses: get and
// merge-patch of Secrets in one namespace, behind a bearer token; forbidden
// names answer 403, as RBAC would.
type fakeAPI struct {
	mu        sync.Mutex
	secrets   map[string]map[string][]byte
	forbidden map[string]bool
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/bndmr/secrets/")
	if r.Header.Get("Authorization") != "Bearer test-token" {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	if !ok || f.forbidden[name] {
		http.Error(w, `secrets "`+name+`" is forbidden`, http.StatusForbidden)
		return
	}
	s, ok := f.secrets[name]
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		json.NewEncoder(w).Encode(map[string]any{"data": s})
	case http.MethodPatch:
		if r.Header.Get("Content-Type") != "application/merge-patch+json" {
			http.Error(w, "unsupported patch", http.StatusUnsupportedMediaType)
			return
		}
		var p struct {
			Data map[string][]byte `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for k, v := range p.Data {
			s[k] = v
		}
		json.NewEncoder(w).Encode(map[string]any{"data": s})
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

// TestCRLRefresh: the CRLs downloaded replace crl.pem of both Secrets when
// each is signed by an authority of the Secret's ca.crt and is far from its
// next update; otherwise no Secret changes. The API server is a stand-in
// (no cluster here) answering as Kubernetes does.
func TestCRLRefresh(t *testing.T) {
	ca, other := newTestCA(t, "IGC-Sante test"), newTestCA(t, "someone else")
	files := map[string][]byte{
		"/good.crl":    ca.crl(t, 7*24*time.Hour),
		"/good.pem":    pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: ca.crl(t, 5*24*time.Hour)}),
		"/stale.crl":   ca.crl(t, 10*time.Minute),
		"/foreign.crl": other.crl(t, 7*24*time.Hour),
		"/garbage.crl": []byte("<html>proxy error</html>"),
	}
	dp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer dp.Close()
	api := &fakeAPI{forbidden: map[string]bool{"bndmr-nats-users": true}}
	srv := httptest.NewTLSServer(api)
	defer srv.Close()
	sa := t.TempDir()
	for name, body := range map[string][]byte{"token": []byte("test-token\n"), "namespace": []byte("bndmr"),
		"ca.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})} {
		if err := os.WriteFile(filepath.Join(sa, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reset := func() {
		api.secrets = map[string]map[string][]byte{}
		for _, s := range []string{"ingest-mssante-tls", "ack-mssante-tls"} {
			api.secrets[s] = map[string][]byte{"ca.crt": ca.pem, "tls.crt": []byte("cert"), "crl.pem": []byte("old")}
		}
	}
	for _, tc := range []struct {
		name    string
		urls    string
		secrets string
		want    int
		crls    int    // CRLs in crl.pem afterwards; 0: unchanged
		says    string // on stdout when the refresh is done, else on stderr
	}{
		{"DER and PEM CRLs of the chain", dp.URL + "/good.crl " + dp.URL + "/good.pem", "", 0, 2,
			"Secret ingest-mssante-tls: crl.pem replaced (2 CRLs)\nSecret ack-mssante-tls: crl.pem replaced (2 CRLs)"},
		{"a CRL near its next update", dp.URL + "/good.crl " + dp.URL + "/stale.crl", "", 1, 0, "/stale.crl: CRL of CN=IGC-Sante test has its next update at"},
		{"a CRL of another authority", dp.URL + "/foreign.crl", "", 1, 0, "the CRL of CN=someone else is signed by no authority of its ca.crt"},
		{"not a CRL", dp.URL + "/garbage.crl", "", 1, 0, "/garbage.crl: not a CRL"},
		{"a URL that answers 404", dp.URL + "/missing.crl", "", 1, 0, "/missing.crl: 404 Not Found"},
		{"a Secret the Role does not allow", dp.URL + "/good.crl", "bndmr-nats-users", 1, 0, "Secret bndmr-nats-users: GET 403 Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset()
			args := []string{"crl", "refresh", "--api", srv.URL, "--service-account", sa, "--crl-urls", tc.urls}
			if tc.secrets != "" {
				args = append(args, "--crl-secrets", tc.secrets)
			}
			c := ctlCase{args: args, want: tc.want, errOut: tc.says}
			if tc.want == 0 {
				c.out, c.errOut = tc.says, ""
			}
			c.run(t, context.Background())
			for name, s := range api.secrets {
				got := string(s["crl.pem"])
				if tc.crls == 0 {
					if got != "old" {
						t.Errorf("%s: crl.pem changed", name)
					}
					continue
				}
				if n := strings.Count(got, "-----BEGIN X509 CRL-----"); n != tc.crls || string(s["tls.crt"]) != "cert" {
					t.Errorf("%s: crl.pem holds %d CRLs (want %d), other keys %q", name, n, tc.crls, s["tls.crt"])
				}
				b, _ := pem.Decode(s["crl.pem"])
				if l, err := x509.ParseRevocationList(b.Bytes); err != nil || l.CheckSignatureFrom(ca.cert) != nil {
					t.Errorf("%s: crl.pem is not the authority's CRL: %v", name, err)
				}
			}
		})
	}
}
