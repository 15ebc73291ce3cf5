package chdb

import (
	"context"
	"strings"
	"testing"
)

// The library is part of `make test` (make deps fetches it): missing, the
// test fails rather than skips, so that the modern engine is never silently
// left out.
func TestEngine(t *testing.T) {
	lib, err := LibFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(lib, "--path="+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	tests := []struct {
		name, sql, format, want string
		wantErr                 string
	}{
		{"version", "SELECT version() LIKE '26.%'", "TabSeparated", "1\n", ""},
		{"names and types", "SELECT toUInt32(1) AS a, 'é' AS b", "TabSeparatedWithNamesAndTypes", "a\tb\nUInt32\tString\n1\té\n", ""},
		{"create", "CREATE TABLE t (a UInt32, s String) ENGINE = MergeTree ORDER BY a", "", "", ""},
		{"insert inline data", "INSERT INTO t (a, s) FORMAT TabSeparated\n2\tdeux\n1\tun\n", "", "", ""},
		{"read back", "SELECT a, s FROM t ORDER BY a", "TabSeparated", "1\tun\n2\tdeux\n", ""},
		{"error", "SELECT nope FROM t", "TabSeparated", "", "UNKNOWN_IDENTIFIER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Query(ctx, tc.sql, tc.format)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Query(ctx, "SELECT 1", ""); err != ErrClosed {
		t.Errorf("query after Close: %v, want ErrClosed", err)
	}
}

func TestLibFromEnvMissing(t *testing.T) {
	t.Setenv(EnvLib, "")
	if _, err := LibFromEnv(); err == nil || !strings.Contains(err.Error(), EnvLib) {
		t.Errorf("unset: %v", err)
	}
	t.Setenv(EnvLib, t.TempDir()+"/none.so")
	if _, err := LibFromEnv(); err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Errorf("missing file: %v", err)
	}
}
