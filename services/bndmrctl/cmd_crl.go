package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The in-cluster service account files (the pod's token is mounted there).
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// cmdCRL refreshes the CRL file of the MSSanté TLS Secrets: it downloads
// every CRL, checks that each is signed by an authority of the Secret's
// ca.crt and is not near its next update, and replaces the Secret's key
// with the new bundle through the Kubernetes API (CronJob crl-refresh).
func cmdCRL(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, "crl", crlUsage, map[string]runFunc{"refresh": crlRefresh}, args, stdout, stderr)
}

const crlUsage = "usage: bndmrctl crl refresh --crl-urls 'URL...' --crl-secrets 'NAME...' [--key crl.pem] [--min-valid D]   (docs/operations.md, \"Refresh the CRLs\")"

func crlRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("crl refresh", crlUsage, stderr)
	urls := envFlag(fs, "crl-urls", "", "the CRLs to download, space-separated, every authority of the servers' chains")
	secrets := envFlag(fs, "crl-secrets", "ingest-mssante-tls ack-mssante-tls", "the Secrets to update, space-separated; each one's ca.crt must hold the authorities that sign the CRLs")
	key := fs.String("key", "crl.pem", "the key of the Secrets that holds the CRLs (the services' CRL file)")
	minValid := fs.Duration("min-valid", time.Hour, "refuse a CRL whose next update is nearer than this: the Secret keeps its file")
	api := fs.String("api", "", "Kubernetes API server URL (default: in the cluster, https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)")
	saDir := fs.String("service-account", serviceAccountDir, "folder of the pod's token, ca.crt and namespace")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil || fs.NArg() != 0 || strings.TrimSpace(*urls) == "" || strings.TrimSpace(*secrets) == "" {
		fs.Usage()
		return 2
	}
	k, err := inCluster(*api, *saDir)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl crl refresh: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var crls []*x509.RevocationList
	for _, u := range strings.Fields(*urls) {
		l, err := fetchCRLs(ctx, u)
		if err != nil {
			fmt.Fprintf(stderr, "bndmrctl crl refresh: %v\n", err)
			return 1
		}
		for _, c := range l {
			if time.Until(c.NextUpdate) < *minValid {
				fmt.Fprintf(stderr, "bndmrctl crl refresh: %s: CRL of %s has its next update at %s, within %v: not taken (the Secrets keep their file)\n",
					u, c.Issuer, c.NextUpdate.UTC().Format(time.RFC3339), *minValid)
				return 1
			}
			fmt.Fprintf(stdout, "%s: CRL of %s, next update %s, %d revoked\n", u, c.Issuer, c.NextUpdate.UTC().Format(time.RFC3339), len(c.RevokedCertificateEntries))
		}
		crls = append(crls, l...)
	}
	var bundle bytes.Buffer
	for _, c := range crls {
		pem.Encode(&bundle, &pem.Block{Type: "X509 CRL", Bytes: c.Raw})
	}
	// Every Secret is checked before any is changed: both services keep
	// the same file.
	for _, name := range strings.Fields(*secrets) {
		data, err := k.secretData(ctx, name)
		if err != nil {
			fmt.Fprintf(stderr, "bndmrctl crl refresh: %v\n", err)
			return 1
		}
		if err := signedByBundle(crls, data["ca.crt"]); err != nil {
			fmt.Fprintf(stderr, "bndmrctl crl refresh: Secret %s: %v\n", name, err)
			return 1
		}
	}
	for _, name := range strings.Fields(*secrets) {
		if err := k.patchSecret(ctx, name, *key, bundle.Bytes()); err != nil {
			fmt.Fprintf(stderr, "bndmrctl crl refresh: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "Secret %s: %s replaced (%d CRLs)\n", name, *key, len(crls))
	}
	return 0
}

// fetchCRLs downloads one URL and parses the CRLs it holds (DER, or PEM
// blocks "X509 CRL").
func fetchCRLs(ctx context.Context, url string) ([]*x509.RevocationList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("CRL URL %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("downloading %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	var ders [][]byte
	if rest := body; bytes.Contains(body, []byte("-----BEGIN X509 CRL-----")) {
		for {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type == "X509 CRL" {
				ders = append(ders, b.Bytes)
			}
		}
	} else {
		ders = [][]byte{body}
	}
	var out []*x509.RevocationList
	for _, d := range ders {
		c, err := x509.ParseRevocationList(d)
		if err != nil {
			return nil, fmt.Errorf("%s: not a CRL: %w", url, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no CRL in the answer", url)
	}
	return out, nil
}

// signedByBundle checks that every CRL is signed by a certificate of the
// PEM bundle caPEM: a CRL fetched over plain HTTP is taken on its signature.
func signedByBundle(crls []*x509.RevocationList, caPEM []byte) error {
	var cas []*x509.Certificate
	for rest := caPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			cas = append(cas, c)
		}
	}
	if len(cas) == 0 {
		return errors.New("its ca.crt holds no certificate to check the CRLs against")
	}
	for _, crl := range crls {
		ok := false
		for _, ca := range cas {
			if crl.CheckSignatureFrom(ca) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("the CRL of %s is signed by no authority of its ca.crt", crl.Issuer)
		}
	}
	return nil
}

// kubeAPI is the pod's access to the API server: its service account.
type kubeAPI struct {
	base, namespace, token string
	client                 *http.Client
}

func inCluster(api, saDir string) (*kubeAPI, error) {
	if api == "" {
		h, p := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if h == "" {
			return nil, errors.New("not in a cluster (KUBERNETES_SERVICE_HOST unset): give --api")
		}
		api = "https://" + h + ":" + p
		if strings.Contains(h, ":") {
			api = "https://[" + h + "]:" + p
		}
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return nil, fmt.Errorf("the service account token (automountServiceAccountToken): %w", err)
	}
	ns, err := os.ReadFile(saDir + "/namespace")
	if err != nil {
		return nil, fmt.Errorf("the pod's namespace: %w", err)
	}
	ca, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return nil, fmt.Errorf("the API server's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s/ca.crt holds no certificate", saDir)
	}
	return &kubeAPI{base: strings.TrimSuffix(api, "/"), namespace: strings.TrimSpace(string(ns)), token: strings.TrimSpace(string(token)),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}, nil
}

func (k *kubeAPI) do(ctx context.Context, method, name, contentType string, body []byte) ([]byte, error) {
	url := k.base + "/api/v1/namespaces/" + k.namespace + "/secrets/" + name
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Secret %s: %w", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("Secret %s: %s %s: %s (the Role crl-refresh allows get and patch on the MSSanté TLS Secrets only)", name, method, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// secretData reads a Secret's data (values decoded).
func (k *kubeAPI) secretData(ctx context.Context, name string) (map[string][]byte, error) {
	b, err := k.do(ctx, http.MethodGet, name, "", nil)
	if err != nil {
		return nil, err
	}
	var s struct {
		Data map[string][]byte `json:"data"` // base64 in JSON, decoded by encoding/json
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("Secret %s: %w", name, err)
	}
	return s.Data, nil
}

// patchSecret sets one key of a Secret (a JSON merge patch: the other keys
// stay).
func (k *kubeAPI) patchSecret(ctx context.Context, name, key string, value []byte) error {
	patch, _ := json.Marshal(map[string]any{"data": map[string]string{key: base64.StdEncoding.EncodeToString(value)}})
	_, err := k.do(ctx, http.MethodPatch, name, "application/merge-patch+json", patch)
	return err
}
