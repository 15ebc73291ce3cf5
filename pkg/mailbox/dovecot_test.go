package mailbox

import (
	"crypto/x509"
	"fmt"
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

	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/tlsclient/tlstest"
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
	d := &ownDovecot{dir: dir, conf: filepath.Join(dir, "dovecot.conf"), imap: fmt.Sprintf("127.0.0.1:%d", testsupport.FreePort(t)), imaps: fmt.Sprintf("127.0.0.1:%d", testsupport.FreePort(t))}
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
	testsupport.WaitFor(t, "Dovecot to listen", 20*time.Second, func() bool { return listening(d.imaps) && listening(d.imap) })
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
	testsupport.WaitFor(t, "Dovecot to stop", 20*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	testsupport.WaitFor(t, "Dovecot's processes to end", 20*time.Second, func() bool { return syscall.Kill(-pgid, 0) != nil })
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

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeCerts makes a CA, a server certificate for 127.0.0.1, a client
// certificate, an unrelated CA and two CRLs of the CA, as PEM files in d.dir.
func (d *ownDovecot) writeCerts(t *testing.T) {
	t.Helper()
	ca, other := tlstest.NewAuthority(t, "BNDMR test CA"), tlstest.NewAuthority(t, "Unrelated CA")
	srv := ca.Leaf(t, "localhost", 2, x509.ExtKeyUsageServerAuth)
	cli := ca.Leaf(t, "hub@bndmr.test", 3, x509.ExtKeyUsageClientAuth)
	d.ca, d.otherCA = filepath.Join(d.dir, "ca.pem"), filepath.Join(d.dir, "other-ca.pem")
	d.cert, d.key = filepath.Join(d.dir, "client.pem"), filepath.Join(d.dir, "client.key")
	tlstest.WritePEM(t, d.ca, "CERTIFICATE", ca.Cert.Raw)
	tlstest.WritePEM(t, d.otherCA, "CERTIFICATE", other.Cert.Raw)
	tlstest.WriteKeyPair(t, srv, filepath.Join(d.dir, "server.pem"), filepath.Join(d.dir, "server.key"))
	tlstest.WriteKeyPair(t, cli, d.cert, d.key)
	d.crl, d.crlRevoked = filepath.Join(d.dir, "crl.pem"), filepath.Join(d.dir, "crl-revoked.pem")
	day := time.Now().Add(24 * time.Hour)
	tlstest.WritePEM(t, d.crl, "X509 CRL", ca.CRL(t, day, nil))
	tlstest.WritePEM(t, d.crlRevoked, "X509 CRL", ca.CRL(t, day, nil, srv.Leaf.SerialNumber))
}
