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
	t.Setenv("T_ADDR", "from-env")
	t.Setenv("T_N", "7")
	t.Setenv("T_D", "3s")
	var addr, shared string
	var n int
	var d time.Duration
	var b bool
	f := NewFlags("t")
	f.String(&addr, "addr", "T_ADDR", "default", "")
	f.String(&shared, "addr", "T_ADDR", "other default", "") // second declaration shares the first
	f.Int(&n, "n", "T_N", 1, "")
	f.Duration(&d, "d", "T_D", time.Second, "")
	f.Bool(&b, "b", "T_B", false, "")
	if err := f.Parse([]string{"-n", "9", "-b"}); err != nil {
		t.Fatal(err)
	}
	if addr != "from-env" || shared != "from-env" || n != 9 || d != 3*time.Second || !b {
		t.Fatalf("addr=%q shared=%q n=%d d=%s b=%v", addr, shared, n, d, b)
	}
}

func TestFlagsReportBadEnvironment(t *testing.T) {
	t.Setenv("T_N", "many")
	var n int
	f := NewFlags("t")
	f.Int(&n, "n", "T_N", 1, "")
	err := f.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "T_N") {
		t.Fatalf("err = %v, want one naming T_N", err)
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
