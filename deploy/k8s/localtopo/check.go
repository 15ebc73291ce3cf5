package localtopo

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// CheckNATS parses each server's configuration as nats-server will, and
// compares its users and permissions with those of the configuration as
// rendered (written under scratch): the loopback servers must enforce
// exactly the production permissions. It sets the servers' environment
// variables in this process.
func (t *Topology) CheckNATS(scratch string) error {
	for _, n := range t.NATS {
		for k, v := range n.Env {
			os.Setenv(k, v)
		}
	}
	for name, body := range t.natsFiles {
		// The certificates where the site has them, as the servers' own
		// configurations do: the files, not their paths, are compared.
		for mount, local := range t.natsMounts {
			body = strings.ReplaceAll(body, strings.TrimSuffix(mount, "/")+"/", local+"/")
		}
		if err := os.WriteFile(filepath.Join(scratch, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	want, err := server.ProcessConfigFile(filepath.Join(scratch, "nats.conf"))
	if err != nil {
		return fmt.Errorf("the rendered nats.conf: %w", err)
	}
	for _, n := range t.NATS {
		for k, v := range n.Env {
			os.Setenv(k, v)
		}
		got, err := server.ProcessConfigFile(n.Conf)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		if got.TLSVerify != want.TLSVerify || (got.TLSConfig == nil) != (want.TLSConfig == nil) || routeTLS(got) != routeTLS(want) {
			return fmt.Errorf("%s: client TLS %v (verify %v), routes %q; rendered: %v (verify %v), routes %q", n.Name,
				got.TLSConfig != nil, got.TLSVerify, routeTLS(got), want.TLSConfig != nil, want.TLSVerify, routeTLS(want))
		}
		if !got.JetStream || got.Cluster.Name != want.Cluster.Name || len(got.Routes) != len(want.Routes) {
			return fmt.Errorf("%s: JetStream %v, cluster %q with %d routes; rendered: cluster %q with %d routes",
				n.Name, got.JetStream, got.Cluster.Name, len(got.Routes), want.Cluster.Name, len(want.Routes))
		}
		if len(got.Users) != len(want.Users) {
			return fmt.Errorf("%s: %d users, rendered %d", n.Name, len(got.Users), len(want.Users))
		}
		for i, u := range got.Users {
			w := want.Users[i]
			if u.Username != w.Username || u.Password != w.Password || !reflect.DeepEqual(u.Permissions, w.Permissions) {
				return fmt.Errorf("%s: user %s differs from the rendered configuration", n.Name, u.Username)
			}
		}
	}
	return nil
}

// routeTLS says how the cluster routes are protected: "verify" (TLS, the
// peer's certificate required), "tls" or "clear".
func routeTLS(o *server.Options) string {
	switch {
	case o.Cluster.TLSConfig == nil:
		return "clear"
	case o.Cluster.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert:
		return "verify"
	}
	return "tls"
}
