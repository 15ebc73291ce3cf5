package mailbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ownDovecot is a Dovecot of one test's own, on free ports, with TLS that
// requires a client certificate from a test CA: the shared Dovecot of
// `make up` cannot be restarted or made that strict without disturbing the
// other packages' tests.
type ownDovecot struct {
	dir   string
	conf  string
	imap  string // STARTTLS
	imaps string // implicit TLS
	// PEM files: the CA the server chains to, the client certificate
	// (commonName hub@bndmr.test) and its key, and a CA the server does not
	// chain to.
	ca, cert, key, otherCA string
	// CRLs of the CA: one that lists nothing, one that revokes the
	// server's certificate.
	crl, crlRevoked string
}

// startOwnDovecot needs what `make up` needs (root, the dovecot binary); it
// runs where BNDMR_TEST_IMAP says those are there.
func startOwnDovecot(t *testing.T) *ownDovecot {
	t.Helper()
	dovecot(t)
	if _, err := exec.LookPath("dovecot"); err != nil {
		t.Fatalf("dovecot binary: %v", err)
	}
	// Short path: Dovecot's unix sockets live under it.
	dir, err := os.MkdirTemp("", "bndmr-dc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &ownDovecot{dir: dir, conf: filepath.Join(dir, "dovecot.conf"), imap: freeAddr(t), imaps: freeAddr(t)}
	d.writeCerts(t)
	for _, sub := range []string{"run", "state", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	u, err := user.Lookup("dovecot")
	if err != nil {
		t.Fatalf("user dovecot: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(filepath.Join(dir, "mail"), uid, gid); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "users"), "hub@bndmr.test:{PLAIN}secret\n")
	_, imapPort, _ := net.SplitHostPort(d.imap)
	_, imapsPort, _ := net.SplitHostPort(d.imaps)
	write(t, d.conf, fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
protocols = imap
listen = 127.0.0.1
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
log_path = %[1]s/dovecot.log
ssl = required
ssl_cert = <%[1]s/server.pem
ssl_key = <%[1]s/server.key
ssl_ca = <%[1]s/ca.pem
ssl_verify_client_cert = yes
ssl_require_crl = no
ssl_min_protocol = TLSv1.2
auth_ssl_require_client_cert = yes
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
auth_mechanisms = plain login external
mail_location = maildir:%[1]s/mail/%%d/%%n/Maildir
mail_uid = dovecot
mail_gid = dovecot
passdb {
  driver = static
  args = nopassword=y
  mechanisms = external
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=%[1]s/mail/%%d/%%n
}
namespace inbox {
  inbox = yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]s
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[3]s
    ssl = yes
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`, dir, imapPort, imapsPort))
	d.start(t)
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *ownDovecot) start(t *testing.T) {
	t.Helper()
	// The daemon keeps the output descriptors it was given: a file, not a
	// pipe this test would wait on.
	out, err := os.Create(filepath.Join(d.dir, "start.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("dovecot", "-c", d.conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("starting Dovecot: %v\n%s", err, b)
	}
	waitFor(t, "Dovecot to listen", 20*time.Second, func() bool { return listening(d.imaps) && listening(d.imap) })
}

// stop ends the master process and every process of its group: the login
// processes that proxy TLS sessions outlive the master on their own, and a
// restart must drop the clients' connections.
func (d *ownDovecot) stop(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, "run", "master.pid"))
	if err != nil {
		return
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		return
	}
	pgid, err := syscall.Getpgid(pid)
	if err != nil || pgid != pid {
		return // not (or no longer) the master of its own process group
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	waitFor(t, "Dovecot to stop", 20*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	waitFor(t, "Dovecot's processes to end", 20*time.Second, func() bool { return syscall.Kill(-pgid, 0) != nil })
}

func (d *ownDovecot) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	return string(b)
}

// config is a client configuration for d with SASL EXTERNAL over implicit TLS.
func (d *ownDovecot) config(inbox, processed string) Config {
	return Config{Name: "own", Addr: d.imaps, TLS: "implicit", CAFile: d.ca, CertFile: d.cert, KeyFile: d.key,
		Auth: "external", Inbox: inbox, Processed: processed, PollInterval: 200 * time.Millisecond,
		Batch: 10, MaxBackoff: 200 * time.Millisecond}
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeCerts makes a CA, a server certificate for 127.0.0.1, a client
// certificate and an unrelated CA, as PEM files in d.dir.
func (d *ownDovecot) writeCerts(t *testing.T) {
	t.Helper()
	ca, caKey := newCA(t, "BNDMR test CA")
	other, _ := newCA(t, "Unrelated CA")
	srv, srvKey := newLeaf(t, ca, caKey, "localhost", x509.ExtKeyUsageServerAuth)
	cli, cliKey := newLeaf(t, ca, caKey, "hub@bndmr.test", x509.ExtKeyUsageClientAuth)
	d.ca, d.otherCA = filepath.Join(d.dir, "ca.pem"), filepath.Join(d.dir, "other-ca.pem")
	d.cert, d.key = filepath.Join(d.dir, "client.pem"), filepath.Join(d.dir, "client.key")
	writePEM(t, d.ca, "CERTIFICATE", ca.Raw)
	writePEM(t, d.otherCA, "CERTIFICATE", other.Raw)
	writePEM(t, filepath.Join(d.dir, "server.pem"), "CERTIFICATE", srv.Raw)
	writeKey(t, filepath.Join(d.dir, "server.key"), srvKey)
	writePEM(t, d.cert, "CERTIFICATE", cli.Raw)
	writeKey(t, d.key, cliKey)
	d.crl, d.crlRevoked = filepath.Join(d.dir, "crl.pem"), filepath.Join(d.dir, "crl-revoked.pem")
	writePEM(t, d.crl, "X509 CRL", newCRL(t, ca, caKey))
	writePEM(t, d.crlRevoked, "X509 CRL", newCRL(t, ca, caKey, srv.SerialNumber))
}

func newCRL(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, revoked ...*big.Int) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)}
	for _, n := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func newCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"BNDMR test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func newLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"BNDMR test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	write(t, path, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
}

func writeKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}
