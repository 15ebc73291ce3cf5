package chcompat

import (
	"strings"
	"testing"
)

func TestBind(t *testing.T) {
	tests := []struct {
		name, sql string
		args      []any
		want, err string
	}{
		{"strings and numbers", "SELECT ? , ?, ?", []any{"a'b\\c", 3, uint64(4)}, `SELECT 'a\'b\\c' , 3, 4`, ""},
		{"? inside quotes stays", "SELECT '?', `?`, ?", []any{"x"}, "SELECT '?', `?`, 'x'", ""},
		{"escaped quote inside a string", `SELECT 'it\'s ?', ?`, []any{1}, `SELECT 'it\'s ?', 1`, ""},
		{"too few arguments", "SELECT ?, ?", []any{1}, "", "more placeholders"},
		{"too many arguments", "SELECT ?", []any{1, 2}, "", "2 arguments for 1"},
		{"unknown type", "SELECT ?", []any{1.5}, "", "no literal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Bind(tc.sql, tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseAndDiff(t *testing.T) {
	a := parse([]byte("n\tx\nUInt64\tString\n2\tb\n1\ta\n"))
	b := parse([]byte("count()\tx\nUInt64\tString\n1\ta\n2\tb\n"))
	if d := Diff(a, b); d != "" {
		t.Errorf("same rows in another order, other names: %s", d)
	}
	c := parse([]byte("n\tx\nInt64\tString\n1\ta\n"))
	d := Diff(a, c)
	for _, want := range []string{"column types", "2 rows on the server, 1 on chDB", "row 2"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff %q lacks %q", d, want)
		}
	}
}
