package access

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Cookie names. The __Host- prefix makes browsers refuse them unless they
// are Secure, for the whole host and set by it, so that a sibling
// subdomain cannot plant or read them.
const (
	sessionCookie = "__Host-bndmr-session"
	loginCookie   = "__Host-bndmr-login"
)

// sealer seals values into cookies with AES-256-GCM: the browser holds the
// session and can neither read nor change it, and every replica of the
// service holding the same key opens it (no session store to share).
type sealer struct{ aead cipher.AEAD }

// newSealer derives the cookie key from the session secret (any length of
// at least 32 bytes: the SHA-256 of it is the key).
func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("the session secret has %d bytes; it needs at least 32 (head -c 32 /dev/urandom > file)", len(secret))
	}
	k := sha256.Sum256(secret)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead}, nil
}

// seal encrypts v as JSON; name is bound in, so a value sealed for one
// cookie does not open as another.
func (s *sealer) seal(name string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, b, []byte(name))), nil
}

var errBadCookie = errors.New("the cookie does not open with this service's key")

func (s *sealer) open(name, value string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < s.aead.NonceSize() {
		return errBadCookie
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return errBadCookie
	}
	return json.Unmarshal(plain, v)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setCookie writes a session-scoped cookie: Secure, HttpOnly, for the whole
// host, SameSite=Lax (sent on the top-level redirect back from the
// provider, not on cross-site POSTs or subresources).
func setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}
