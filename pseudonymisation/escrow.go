package pseudonymisation

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Key escrow: a key file split into three shares, any two of which rebuild
// it (Shamir's secret sharing over GF(2^8), threshold 2), so that no single
// custodian holds the key and the loss of one share loses nothing. One
// share alone says nothing of the key: each byte of it is the key's byte
// plus a random line's slope times the share's number, and the slope is
// unknown. docs/security.md, "Key escrow", gives the procedure.
//
// A share is one line of text, to print and to type back:
//
//	bndmr-key-share v1 x=2 of=3 need=2 set=3f9a… key=sha256:… data=<base64url> check=<8 hex>
//
// set names the split (shares of two splits never mix), key is the SHA-256
// of the key file (the join checks what it rebuilt), check is the SHA-256 of
// everything before it (a typo is caught on the share itself).

const (
	shareMagic  = "bndmr-key-share"
	shareFormat = "v1"
	// SharesTotal and SharesNeeded: three custodians, any two of them.
	SharesTotal  = 3
	SharesNeeded = 2
)

// SplitKeyFile splits a key file (after checking it holds valid keys) into
// SharesTotal share lines.
func SplitKeyFile(keyFile []byte) ([]string, error) {
	if _, err := parseKeyFileBytes(keyFile); err != nil {
		return nil, err
	}
	slope := make([]byte, len(keyFile))
	if _, err := rand.Read(slope); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	defer clear(slope)
	set := make([]byte, 4)
	if _, err := rand.Read(set); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	sum := sha256.Sum256(keyFile)
	var out []string
	for x := byte(1); x <= SharesTotal; x++ {
		y := make([]byte, len(keyFile))
		for i, s := range keyFile {
			y[i] = s ^ gfMul(slope[i], x) // f(x) = secret + slope·x
		}
		body := fmt.Sprintf("%s %s x=%d of=%d need=%d set=%s key=sha256:%s data=%s", shareMagic, shareFormat, x, SharesTotal, SharesNeeded,
			hex.EncodeToString(set), hex.EncodeToString(sum[:8]), base64.RawURLEncoding.EncodeToString(y))
		clear(y)
		out = append(out, body+" check="+check(body))
	}
	return out, nil
}

func check(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:4])
}

type share struct {
	x        byte
	set, key string
	y        []byte
}

func parseShare(n int, line string) (share, error) {
	line = strings.TrimSpace(line)
	body, sum, ok := strings.Cut(line, " check=")
	if !ok || !strings.HasPrefix(body, shareMagic+" ") {
		return share{}, fmt.Errorf("share %d is not a BNDMR key share (a line starting %q and ending with check=…)", n, shareMagic)
	}
	if check(body) != sum {
		return share{}, fmt.Errorf("share %d is damaged: its check (%s) does not match its content (a character mistyped?)", n, sum)
	}
	f := strings.Fields(body)
	if len(f) != 8 || f[1] != shareFormat {
		return share{}, fmt.Errorf("share %d: format %q unknown, want %s", n, f[1], shareFormat)
	}
	kv := map[string]string{}
	for _, p := range f[2:] {
		k, v, _ := strings.Cut(p, "=")
		kv[k] = v
	}
	x, err := strconv.Atoi(kv["x"])
	if err != nil || x < 1 || x > SharesTotal || kv["need"] != strconv.Itoa(SharesNeeded) {
		return share{}, fmt.Errorf("share %d: number x=%s need=%s, want 1..%d and %d", n, kv["x"], kv["need"], SharesTotal, SharesNeeded)
	}
	y, err := base64.RawURLEncoding.DecodeString(kv["data"])
	if err != nil {
		return share{}, fmt.Errorf("share %d: data is not base64url", n)
	}
	return share{x: byte(x), set: kv["set"], key: kv["key"], y: y}, nil
}

// JoinShares rebuilds the key file from SharesNeeded share lines (more are
// accepted; the first two distinct ones are used), and checks it against the
// fingerprint the shares carry.
func JoinShares(lines []string) ([]byte, error) {
	var shares []share
	for i, l := range lines {
		s, err := parseShare(i+1, l)
		if err != nil {
			return nil, err
		}
		for _, o := range shares {
			if o.set != s.set || o.key != s.key {
				return nil, fmt.Errorf("share %d belongs to another split (set %s, the first share's %s): bring shares of the same split", i+1, s.set, o.set)
			}
			if o.x == s.x {
				return nil, fmt.Errorf("share %d is share x=%d again: bring %d different shares", i+1, s.x, SharesNeeded)
			}
		}
		shares = append(shares, s)
	}
	if len(shares) < SharesNeeded {
		return nil, fmt.Errorf("%d share(s) given, %d needed: one share alone says nothing of the key", len(shares), SharesNeeded)
	}
	a, b := shares[0], shares[1]
	if len(a.y) != len(b.y) {
		return nil, errors.New("the shares have different lengths: they are not of the same key")
	}
	// Lagrange at 0 with two points: s = (ya·xb + yb·xa) / (xa + xb).
	inv := gfInv(a.x ^ b.x)
	out := make([]byte, len(a.y))
	for i := range out {
		out[i] = gfMul(gfMul(a.y[i], b.x)^gfMul(b.y[i], a.x), inv)
	}
	sum := sha256.Sum256(out)
	if subtle.ConstantTimeCompare([]byte("sha256:"+hex.EncodeToString(sum[:8])), []byte(a.key)) != 1 {
		clear(out)
		return nil, errors.New("the shares do not rebuild the key they were made from")
	}
	if _, err := parseKeyFileBytes(out); err != nil {
		clear(out)
		return nil, fmt.Errorf("rebuilt, but: %w", err)
	}
	return out, nil
}

// parseKeyFileBytes checks data is a key file of valid keys and returns
// their ids.
func parseKeyFileBytes(data []byte) ([]string, error) {
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("not a pseudonymisation key file: want {\"key_id\": …, \"key\": base64 of %d bytes}", KeySize)
	}
	files := kf.Keys
	if kf.KeyID != "" || kf.Key != "" {
		files = append([]keyFile{{KeyID: kf.KeyID, Key: kf.Key, Primary: kf.Primary}}, files...)
	}
	if len(files) == 0 {
		return nil, errors.New("the key file holds no key")
	}
	var ids []string
	for _, f := range files {
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(f.Key))
		if err != nil {
			return nil, fmt.Errorf("key %q: not valid base64", f.KeyID)
		}
		_, err = NewKey(f.KeyID, secret, f.Primary)
		clear(secret)
		if err != nil {
			return nil, err
		}
		ids = append(ids, f.KeyID)
	}
	return ids, nil
}

// KeyFileIDs returns the ids of the keys of a key file's content.
func KeyFileIDs(data []byte) ([]string, error) { return parseKeyFileBytes(data) }

// gfMul multiplies in GF(2^8) modulo x^8+x^4+x^3+x+1 (AES's field), in
// constant time.
func gfMul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= -(b & 1) & a
		hi := -(a >> 7)
		a = a<<1 ^ 0x1b&hi
		b >>= 1
	}
	return p
}

// gfInv is a^254 = a^-1 (a ≠ 0).
func gfInv(a byte) byte {
	r := byte(1)
	for range 254 {
		r = gfMul(r, a)
	}
	return r
}
