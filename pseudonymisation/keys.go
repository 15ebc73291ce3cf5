// Package pseudonymisation turns an identified SDM-MR extraction into the
// record the analytical store may hold: keyed pseudonyms (HMAC-SHA-256 under
// the national key) instead of identities, generalised quasi-identifiers,
// no free text. It is the only code that sees the keys.
package pseudonymisation

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// KeySize is the length of a key in bytes.
const KeySize = 32

// Secret is key material. Every way Go has of printing or encoding a value
// shows "[redacted]" instead of the bytes, so that a key passed by mistake to
// a logger, an error or an event cannot leak.
type Secret []byte

const redacted = "[redacted]"

func (Secret) String() string                { return redacted }
func (Secret) GoString() string              { return redacted }
func (Secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }
func (s *Secret) UnmarshalJSON([]byte) error {
	return errors.New("a secret is not read from JSON this way")
}

// Key is one pseudonymisation key and its id (the id travels in records,
// the key never does).
type Key struct {
	ID string
	// secret is behind a pointer: fmt prints nested pointers as addresses,
	// so even a Key inside another struct never shows its bytes.
	secret  *Secret
	Primary bool
}

// String shows the id only.
func (k Key) String() string { return "key " + k.ID }

// GoString shows the id only.
func (k Key) GoString() string {
	return "pseudonymisation.Key{ID: " + fmt.Sprintf("%q", k.ID) + ", secret: [redacted]}"
}

// Format shows the id only, whatever the verb.
func (k Key) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }

// MarshalJSON shows the id only.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]string{"key_id": k.ID}) }

// NewKey makes a key from its id and 32 bytes of secret (copied).
func NewKey(id string, secret []byte, primary bool) (*Key, error) {
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	if len(secret) != KeySize {
		return nil, fmt.Errorf("key %q: the secret is %d bytes, want %d", id, len(secret), KeySize)
	}
	sec := append(Secret(nil), secret...)
	return &Key{ID: id, secret: &sec, Primary: primary}, nil
}

func checkKeyID(id string) error {
	if id == "" {
		return errors.New("a key has no key_id")
	}
	if len(id) > 64 {
		return errors.New("a key_id is longer than 64 characters")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("key_id %q: only letters, digits, '-', '_' and '.' are allowed", id)
		}
	}
	return nil
}

// Keyring is the primary key (new pseudonyms) and the others (a rotation
// in progress: records then carry pseudonyms under each of them too).
type Keyring struct {
	primary *Key
	others  []*Key
}

// NewKeyring builds a keyring. Exactly one key must be primary, unless
// there is only one key.
func NewKeyring(keys ...*Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no pseudonymisation key")
	}
	kr := &Keyring{}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.ID] {
			return nil, fmt.Errorf("key_id %q appears twice", k.ID)
		}
		seen[k.ID] = true
		if k.Primary || len(keys) == 1 {
			if kr.primary != nil {
				return nil, fmt.Errorf("two primary keys (%q and %q): mark only the new key \"primary\": true", kr.primary.ID, k.ID)
			}
			kr.primary = k
			continue
		}
		kr.others = append(kr.others, k)
	}
	if kr.primary == nil {
		return nil, fmt.Errorf("%d keys and none is primary: mark the current key \"primary\": true", len(keys))
	}
	sort.Slice(kr.others, func(i, j int) bool { return kr.others[i].ID < kr.others[j].ID })
	return kr, nil
}

// Primary returns the key id new pseudonyms are made with.
func (kr *Keyring) Primary() string { return kr.primary.ID }

// Others returns the ids of the other keys (rotation).
func (kr Keyring) Others() []string {
	ids := make([]string, len(kr.others))
	for i, k := range kr.others {
		ids[i] = k.ID
	}
	return ids
}

// String shows the key ids only.
func (kr Keyring) String() string {
	return fmt.Sprintf("keyring{primary: %s, others: %v}", kr.primary.ID, kr.Others())
}

// GoString shows the key ids only.
func (kr Keyring) GoString() string { return kr.String() }

// Format shows the key ids only, whatever the verb.
func (kr Keyring) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(kr.String())) }

// MarshalJSON shows the key ids only.
func (kr Keyring) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"primary": kr.primary.ID, "others": kr.Others()})
}

// keyFile is the on-disk format of one key:
//
//	{"key_id": "2026-01", "key": "<base64 of 32 bytes>", "primary": true}
//
// A file may also hold {"keys": [ … ]}. A directory (a mounted Kubernetes
// Secret, one key per entry) holds one key per file; hidden entries (the
// ..data links Kubernetes makes) are skipped.
type keyFile struct {
	KeyID   string    `json:"key_id"`
	Key     string    `json:"key"`
	Primary bool      `json:"primary"`
	Keys    []keyFile `json:"keys,omitempty"`
}

// LoadKeys reads a key file or a directory of key files.
func LoadKeys(path string) (*Keyring, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonymisation keys: %w", err)
	}
	var keys []*Key
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("pseudonymisation keys: %w", err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(path, e.Name())
			fi, err := os.Stat(p) // follows the Secret's symlinks
			if err != nil {
				return nil, fmt.Errorf("pseudonymisation keys: %w", err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			ks, err := readKeyFile(p)
			if err != nil {
				return nil, err
			}
			keys = append(keys, ks...)
		}
	} else {
		if keys, err = readKeyFile(path); err != nil {
			return nil, err
		}
	}
	kr, err := NewKeyring(keys...)
	if err != nil {
		return nil, fmt.Errorf("pseudonymisation keys in %s: %w", path, err)
	}
	return kr, nil
}

func readKeyFile(path string) ([]*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonymisation keys: %w", err)
	}
	defer clear(data)
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		// The JSON decoder's messages name offsets and types, never the
		// content; still, say no more than where.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("pseudonymisation key file %s: not JSON (syntax error at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf("pseudonymisation key file %s: not a key file: want {\"key_id\": …, \"key\": base64 of %d bytes}", path, KeySize)
	}
	files := kf.Keys
	if kf.KeyID != "" || kf.Key != "" {
		files = append([]keyFile{{KeyID: kf.KeyID, Key: kf.Key, Primary: kf.Primary}}, files...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("pseudonymisation key file %s holds no key", path)
	}
	var keys []*Key
	for _, f := range files {
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(f.Key))
		if err != nil {
			clear(secret)
			return nil, fmt.Errorf("pseudonymisation key file %s, key %q: the key is not valid base64", path, f.KeyID)
		}
		k, err := NewKey(f.KeyID, secret, f.Primary)
		clear(secret)
		if err != nil {
			return nil, fmt.Errorf("pseudonymisation key file %s: %w", path, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// GenerateKeyFile returns a new key file (random key) for id.
func GenerateKeyFile(id string) ([]byte, error) {
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	defer clear(secret)
	out, err := json.MarshalIndent(keyFile{KeyID: id, Key: base64.StdEncoding.EncodeToString(secret), Primary: true}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// WriteKeyFile writes a new key file at path, readable by its owner only;
// it refuses to overwrite an existing file.
func WriteKeyFile(path, id string) error {
	data, err := GenerateKeyFile(id)
	if err != nil {
		return err
	}
	defer clear(data)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: a key file is never overwritten", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
