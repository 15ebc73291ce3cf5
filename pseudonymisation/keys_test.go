package pseudonymisation

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSecret is a recognisable 32-byte secret.
func testSecret(fill byte) []byte { return bytes.Repeat([]byte{fill}, KeySize) }

func writeKey(t *testing.T, dir, name, id string, secret []byte, primary bool) string {
	t.Helper()
	data, err := json.Marshal(map[string]any{"key_id": id, "key": base64.StdEncoding.EncodeToString(secret), "primary": primary})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadKeysFile(t *testing.T) {
	dir := t.TempDir()
	p := writeKey(t, dir, "k.json", "2026-01", testSecret(7), false)
	kr, err := LoadKeys(p)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Primary() != "2026-01" || len(kr.Others()) != 0 {
		t.Fatalf("keyring %v: want one primary key 2026-01", kr)
	}
}

// A mounted Kubernetes Secret: one file per key behind ..data symlinks.
func TestLoadKeysSecretDirectory(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "..2026_11_25")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	writeKey(t, data, "old.json", "2025-01", testSecret(1), false)
	writeKey(t, data, "new.json", "2026-01", testSecret(2), true)
	if err := os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"old.json", "new.json"} {
		if err := os.Symlink(filepath.Join("..data", n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	kr, err := LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Primary() != "2026-01" || strings.Join(kr.Others(), ",") != "2025-01" {
		t.Fatalf("keyring %v: want primary 2026-01 and other 2025-01", kr)
	}
}

func TestLoadKeysErrors(t *testing.T) {
	secret := testSecret(9)
	enc := base64.StdEncoding.EncodeToString(secret)
	tests := []struct {
		name, content, want string
	}{
		{"not json", "key=" + enc, "not JSON"},
		{"short key", `{"key_id":"a","key":"` + base64.StdEncoding.EncodeToString(secret[:16]) + `"}`, "16 bytes"},
		{"bad base64", `{"key_id":"a","key":"` + enc + `!!"}`, "not valid base64"},
		{"no id", `{"key":"` + enc + `"}`, "no key_id"},
		{"empty", `{}`, "holds no key"},
		{"two primaries", `{"keys":[{"key_id":"a","key":"` + enc + `","primary":true},{"key_id":"b","key":"` + enc + `","primary":true}]}`, "two primary keys"},
		{"no primary", `{"keys":[{"key_id":"a","key":"` + enc + `"},{"key_id":"b","key":"` + enc + `"}]}`, "none is primary"},
		{"duplicate", `{"keys":[{"key_id":"a","key":"` + enc + `","primary":true},{"key_id":"a","key":"` + enc + `"}]}`, "twice"},
		{"bad id", `{"key_id":"a b","key":"` + enc + `"}`, "only letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "k.json")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKeys(p)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			assertNoSecret(t, err.Error(), secret)
		})
	}
	if _, err := LoadKeys(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

// assertNoSecret fails when s holds the secret in any usual encoding.
func assertNoSecret(t *testing.T, s string, secret []byte) {
	t.Helper()
	for _, enc := range []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawStdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret),
		fmt.Sprint([]byte(secret)),
		fmt.Sprintf("%#v", []byte(secret)),
		hex.EncodeToString(secret[:8]),
		base64.StdEncoding.EncodeToString(secret[:12]),
	} {
		if strings.Contains(s, enc) {
			t.Fatalf("the key leaks (as %q) in: %s", enc, s)
		}
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	secret := []byte("0123456789abcdefghijklmnopqrstuv") // printable: would show in %s
	k, err := NewKey("k1", secret, true)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	p := New(kr, Options{Rotation: true})
	var out []string
	for _, v := range []any{k, *k, k.secret, *k.secret, kr, *kr, p, *p, []*Key{k}, map[string]*Key{"k": k}, struct{ K *Keyring }{kr}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err == nil {
			out = append(out, string(j))
		}
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("keys", "key", k, "keyring", kr, "secret", *k.secret, "p", p)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("keys", "key", k, "keyring", kr, "secret", *k.secret, "p", p)
	out = append(out, logs.String(), fmt.Errorf("wrapped: %v", k).Error())
	func() {
		defer func() { out = append(out, fmt.Sprint(recover())) }()
		panic(*k.secret)
	}()
	all := strings.Join(out, "\n")
	assertNoSecret(t, all, secret)
	if !strings.Contains(all, "k1") {
		t.Error("the key id should be printable")
	}
}

func TestGenerateKeyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key.json")
	if err := WriteKeyFile(p, "2026-11"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	kr, err := LoadKeys(p)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Primary() != "2026-11" {
		t.Errorf("primary %q", kr.Primary())
	}
	if err := WriteKeyFile(p, "2026-12"); err == nil {
		t.Error("WriteKeyFile overwrote an existing key file")
	}
	p2 := filepath.Join(t.TempDir(), "key.json")
	if err := WriteKeyFile(p2, "2026-11"); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(p2)
	if bytes.Equal(a, b) {
		t.Error("two generated keys are equal")
	}
}
