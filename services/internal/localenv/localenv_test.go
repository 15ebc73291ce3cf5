package localenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	f := filepath.Join(t.TempDir(), "env")
	body := "# comment\nBNDMR_CLICKHOUSE_CA='/a/ca.crt'\nQUOTED='it'\\''s'\nEMPTY=''\nnot a line\n"
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"BNDMR_CLICKHOUSE_CA": "/a/ca.crt", "QUOTED": "it's", "EMPTY": ""} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	if len(env) != 3 {
		t.Errorf("read %d variables, want 3: %v", len(env), env)
	}
	if got := ClickHouseTLS(env).CAFile; got != "/a/ca.crt" {
		t.Errorf("ClickHouseTLS CA = %q", got)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file read without error")
	}
}
