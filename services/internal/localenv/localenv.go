// Package localenv reads what scripts/up-topology.sh leaves for the tests
// that drive the loopback production topology: the environment files
// deploy/k8s/localtopo writes for each process (KEY='value' lines), and the
// connection settings found in them.
package localenv

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/tlsclient"
)

// Read reads one environment file written by localtopo.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("topology environment: %w", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && k != "" && !strings.HasPrefix(k, "#") {
			env[k] = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, "'")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("topology environment %s: %w", path, err)
	}
	return env, nil
}

// ClickHouseTLS is the ClickHouse client certificate of a process's
// environment (empty when the process reaches ClickHouse in clear).
func ClickHouseTLS(env map[string]string) tlsclient.Files {
	return tlsclient.Files{CAFile: env["BNDMR_CLICKHOUSE_CA"], CertFile: env["BNDMR_CLICKHOUSE_CERT"], KeyFile: env["BNDMR_CLICKHOUSE_KEY"]}
}

// NATSTLS is the NATS client certificate of a process's environment, as a
// bus.Config to complete with the URL and the user.
func NATSTLS(env map[string]string) bus.Config {
	return bus.Config{CAFile: env["BNDMR_NATS_CA"], CertFile: env["BNDMR_NATS_CERT"], KeyFile: env["BNDMR_NATS_KEY"]}
}
