package app

import (
	"flag"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/service"
)

// TestFlagsFollowTheRule walks the flag set of the hub and of every
// service: each flag has an environment variable, and it is the one
// service.EnvOf makes of its name.
func TestFlagsFollowTheRule(t *testing.T) {
	sets := FlagSets()
	if len(sets) != 7 {
		t.Fatalf("%d flag sets, want the hub's and six services'", len(sets))
	}
	for name, fs := range sets {
		n := 0
		fs.VisitAll(func(fl *flag.Flag) {
			n++
			if got, want := service.EnvOfUsage(fl.Usage), service.EnvOf(fl.Name); got != want {
				t.Errorf("%s --%s: variable %q, want %q", name, fl.Name, got, want)
			}
		})
		if n == 0 {
			t.Errorf("%s declares no flag", name)
		}
	}
}

// TestHubDeclaresEachSettingOnce: the hub's flags are the union of the
// services' (and its own), one flag per name, with the same default and
// help as the service that has it.
func TestHubDeclaresEachSettingOnce(t *testing.T) {
	sets := FlagSets()
	hub := sets["hub"]
	for name, fs := range sets {
		if name == "hub" {
			continue
		}
		fs.VisitAll(func(fl *flag.Flag) {
			h := hub.Lookup(fl.Name)
			switch {
			case h == nil:
				t.Errorf("the hub has no --%s (service %s has)", fl.Name, name)
			case fl.Name == "http-addr":
			case h.DefValue != fl.DefValue || h.Usage != fl.Usage:
				t.Errorf("--%s: hub %q %q, %s %q %q", fl.Name, h.DefValue, h.Usage, name, fl.DefValue, fl.Usage)
			}
		})
	}
}

// TestCheckAcross: the rules between settings of different groups stop the
// process at start, with a message naming the flags.
func TestCheckAcross(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "defaults"},
		{name: "inline mail over 3/4 of the message", args: []string{"--ingest-max-inline", "3500000"},
			wantErr: "--ingest-max-inline 3500000 is too large for --nats-max-msg 4194304"},
		{name: "message lowered under the inline mail", args: []string{"--nats-max-msg", "1048576"},
			wantErr: "--ingest-max-inline 2097152 is too large for --nats-max-msg 1048576"},
		{name: "both raised", args: []string{"--nats-max-msg", "8388608", "--ingest-max-inline", "4194304"}},
		{name: "at the limit", args: []string{"--nats-max-msg", "1048576", "--ingest-max-inline", "774144"}},
		{name: "one byte over", args: []string{"--nats-max-msg", "1048576", "--ingest-max-inline", "774145"},
			wantErr: "must stay at or under 774144"},
		{name: "ClickHouse TLS files with a DSN in clear", args: []string{"--clickhouse-ca", "ca.pem"},
			wantErr: "add secure=true to --clickhouse"},
		{name: "ClickHouse TLS files with the TLS port", args: []string{"--clickhouse-ca", "ca.pem",
			"--clickhouse", "clickhouse://127.0.0.1:9440/default?secure=true"}},
		{name: "a DSN that does not parse", args: []string{"--clickhouse", "clickhouse://127.0.0.1:9000/default?dial_timeout=soon"},
			wantErr: "--clickhouse clickhouse://"},
		{name: "no sign-in on a public address", args: []string{"--auth", "none", "--indicators-addr", ":8090"},
			wantErr: "--indicators-addr: --auth none serves everyone"},
		{name: "no sign-in on loopback", args: []string{"--auth", "none", "--indicators-addr", "127.0.0.1:8090"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Hub{}
			var common Common
			f := h.flags(&common)
			if err := f.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := common.check(); err != nil {
				t.Fatal(err)
			}
			err := checkAcross(common, h.comps...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%v: %v", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.wantErr)
			}
		})
	}
}
