package service

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFlagsTakeEnvironmentThenArguments(t *testing.T) {
	t.Setenv("BNDMR_T_ADDR", "from-env")
	t.Setenv("BNDMR_T_N", "7")
	t.Setenv("BNDMR_T_D", "3s")
	var addr string
	var n int
	var d time.Duration
	var b bool
	f := NewFlags("t")
	f.String(&addr, Name("t", "addr"), "default", "")
	f.Int(&n, "t-n", 1, "")
	f.Duration(&d, "t-d", time.Second, "")
	f.Bool(&b, "t-b", false, "")
	if err := f.Parse([]string{"-t-n", "9", "-t-b"}); err != nil {
		t.Fatal(err)
	}
	if addr != "from-env" || n != 9 || d != 3*time.Second || !b {
		t.Fatalf("addr=%q n=%d d=%s b=%v", addr, n, d, b)
	}
	if got := EnvOfUsage(f.FS.Lookup("t-addr").Usage); got != "BNDMR_T_ADDR" {
		t.Errorf("the usage of --t-addr names %q", got)
	}
}

func TestEnvOf(t *testing.T) {
	for _, tc := range []struct{ prefix, name, flag, env string }{
		{"nats", "url", "nats-url", "BNDMR_NATS_URL"},
		{"clickhouse", "", "clickhouse", "BNDMR_CLICKHOUSE"},
		{"", "small-count-threshold", "small-count-threshold", "BNDMR_SMALL_COUNT_THRESHOLD"},
		{"imap", "no-idle", "imap-no-idle", "BNDMR_IMAP_NO_IDLE"},
	} {
		if got := Name(tc.prefix, tc.name); got != tc.flag {
			t.Errorf("Name(%q, %q) = %q, want %q", tc.prefix, tc.name, got, tc.flag)
		}
		if got := EnvOf(tc.flag); got != tc.env {
			t.Errorf("EnvOf(%q) = %q, want %q", tc.flag, got, tc.env)
		}
	}
}

func TestFlagsDeclaredOnce(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a flag declared twice was accepted")
		}
	}()
	var a, b string
	f := NewFlags("t")
	f.String(&a, "addr", "", "")
	f.String(&b, "addr", "", "")
}

func TestFlagsReportBadEnvironment(t *testing.T) {
	t.Setenv("BNDMR_N", "many")
	var n int
	f := NewFlags("t")
	f.Int(&n, "n", 1, "")
	err := f.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "BNDMR_N") {
		t.Fatalf("err = %v, want one naming BNDMR_N", err)
	}
}

func TestReadyzReflectsChecks(t *testing.T) {
	o := NewOps()
	var failing error
	o.Ready("db", func(context.Context) error { return failing })
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, sb.String()
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d while ready", code)
	}
	failing = errors.New("down")
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "db: down") {
		t.Errorf("/readyz = %d %q while the check fails", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d", code)
	}
}
