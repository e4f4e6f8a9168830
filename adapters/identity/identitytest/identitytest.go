// Package identitytest writes key, secret and public-key files and mints
// buyer tokens, for tests of identity and of everything that sits on it.
package identitytest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/seatres/reservation/adapters/identity"
)

// Key is an API key to write: its file entry carries the SHA-256 of Secret.
type Key struct {
	Name   string
	Secret string
	Scopes []identity.Scope
}

// WriteKeys writes a key file for keys into t.TempDir() and returns its path.
func WriteKeys(t testing.TB, keys ...Key) string {
	t.Helper()
	type fileKey struct {
		Name   string           `yaml:"name"`
		SHA256 string           `yaml:"sha256"`
		Scopes []identity.Scope `yaml:"scopes,flow"`
	}
	var file struct {
		Keys []fileKey `yaml:"keys"`
	}
	for _, k := range keys {
		sum := sha256.Sum256([]byte(k.Secret))
		file.Keys = append(file.Keys, fileKey{Name: k.Name, SHA256: hex.EncodeToString(sum[:]), Scopes: k.Scopes})
	}
	data, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	return WriteFile(t, "keys.yaml", data)
}

// WriteFile writes data to a file named name in a new t.TempDir() and
// returns its path.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// NewSecret returns a random HS256 secret of identity.MinSecretLen
// printable bytes (so it never ends in a newline that the secret file would
// lose). Its capacity is its length, so appending to it copies.
func NewSecret(t testing.TB) []byte {
	t.Helper()
	return []byte(rand.Text() + rand.Text())[:identity.MinSecretLen:identity.MinSecretLen]
}

// WriteSecret writes an HS256 secret file and returns its path.
func WriteSecret(t testing.TB, secret []byte) string {
	t.Helper()
	return WriteFile(t, "buyer-secret", secret)
}

// Ed25519KeyPair returns a new private key and the path of a PEM file with
// its public key.
func Ed25519KeyPair(t testing.TB) (ed25519.PrivateKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv, WritePublicKeys(t, pub)
}

// WritePublicKeys writes a PEM file with the public keys, in order, and
// returns its path.
func WritePublicKeys(t testing.TB, keys ...ed25519.PublicKey) string {
	t.Helper()
	var data []byte
	for _, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return WriteFile(t, "buyer-public-keys.pem", data)
}

// Mint returns an HS256 token for sub. A zero exp leaves exp out and an
// empty aud leaves aud out, for tests of tokens that lack them.
func Mint(t testing.TB, secret []byte, sub string, exp time.Time, aud string) string {
	t.Helper()
	return Sign(t, jwt.SigningMethodHS256, secret, Claims(sub, exp, aud))
}

// MintEdDSA is Mint for EdDSA.
func MintEdDSA(t testing.TB, key ed25519.PrivateKey, sub string, exp time.Time, aud string) string {
	t.Helper()
	return Sign(t, jwt.SigningMethodEdDSA, key, Claims(sub, exp, aud))
}

// Claims returns the registered claims Mint puts in a token.
func Claims(sub string, exp time.Time, aud string) jwt.RegisteredClaims {
	c := jwt.RegisteredClaims{Subject: sub}
	if !exp.IsZero() {
		c.ExpiresAt = jwt.NewNumericDate(exp)
	}
	if aud != "" {
		c.Audience = jwt.ClaimStrings{aud}
	}
	return c
}

// Sign returns a token of claims signed with method and key, for tokens Mint
// does not make (another algorithm, "none", odd claims).
func Sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
