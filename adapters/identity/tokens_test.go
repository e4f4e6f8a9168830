package identity_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
)

const (
	buyer    = "3f2b9c1e-0000-4000-8000-000000000000"
	audience = "reservation"
)

// start is the tests' fixed "now".
var start = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock, safe to read while a test moves it.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(start.UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func fixedNow() time.Time            { return start }
func inAnHour() time.Time            { return start.Add(time.Hour) }
func newTokens(t testing.TB, cfg identity.TokenConfig) *identity.Tokens {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	tokens, err := identity.NewTokens(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func wantRefused(t *testing.T, tokens *identity.Tokens, token string) {
	t.Helper()
	got, err := tokens.Verify(token)
	if err == nil {
		t.Fatalf("Verify accepted the token for %q", got)
	}
	if !errors.Is(err, identity.ErrInvalidToken) {
		t.Errorf("Verify error %v does not wrap ErrInvalidToken", err)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Errorf("Verify error %q repeats the token", err)
	}
}

// flipPadding changes the unused low bits of the last character of a
// token's signature: the same signature bytes, spelt differently.
func flipPadding(token string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	return token[:len(token)-1] + string(alphabet[last^1])
}

func TestVerifyHS256(t *testing.T) {
	t.Parallel()
	secret := identitytest.NewSecret(t)
	other := identitytest.NewSecret(t)
	withAud := newTokens(t, identity.TokenConfig{SecretFile: identitytest.WriteSecret(t, secret), Audience: audience})
	noAud := newTokens(t, identity.TokenConfig{SecretFile: identitytest.WriteSecret(t, secret)})
	mint := func(sub string, exp time.Time, aud string) string {
		return identitytest.Mint(t, secret, sub, exp, aud)
	}
	sign := func(method jwt.SigningMethod, key any, claims jwt.Claims) string {
		return identitytest.Sign(t, method, key, claims)
	}
	notYet := identitytest.Claims(buyer, inAnHour(), audience)
	notYet.NotBefore = jwt.NewNumericDate(start.Add(time.Minute))
	for _, tt := range []struct {
		name   string
		tokens *identity.Tokens
		give   string
		want   string // the buyer; "" when refused
	}{
		{"good", withAud, mint(buyer, inAnHour(), audience), buyer},
		{"good, no audience configured", noAud, mint(buyer, inAnHour(), "someone-else"), buyer},
		{"good, any sub NewUserID takes", noAud, mint("buyer 7", inAnHour(), ""), "buyer 7"},
		{"expired within the leeway", withAud, mint(buyer, start.Add(-identity.Leeway+time.Second), audience), buyer},
		{"expired", withAud, mint(buyer, start.Add(-time.Minute), audience), ""},
		{"no exp", withAud, mint(buyer, time.Time{}, audience), ""},
		{"not valid yet", withAud, sign(jwt.SigningMethodHS256, secret, notYet), ""},
		{"wrong aud", withAud, mint(buyer, inAnHour(), "someone-else"), ""},
		{"no aud", withAud, mint(buyer, inAnHour(), ""), ""},
		{"wrong secret", withAud, identitytest.Mint(t, other, buyer, inAnHour(), audience), ""},
		{"alg none", noAud, sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, identitytest.Claims(buyer, inAnHour(), "")), ""},
		{"HS384 with the secret", noAud, sign(jwt.SigningMethodHS384, secret, identitytest.Claims(buyer, inAnHour(), "")), ""},
		{"no sub", noAud, mint("", inAnHour(), ""), ""},
		{"blank sub", noAud, mint("   ", inAnHour(), ""), ""},
		{"sub with a control character", noAud, mint(buyer+"\n", inAnHour(), ""), ""},
		{"sub too long", noAud, mint(strings.Repeat("b", 129), inAnHour(), ""), ""},
		{"signature spelt differently", noAud, flipPadding(mint(buyer, inAnHour(), "")), ""},
		{"no signature", noAud, strings.TrimRight(mint(buyer, inAnHour(), ""), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), ""},
		{"too long", noAud, mint(strings.Repeat("b", 128), inAnHour(), strings.Repeat("a", 4096)), ""},
		{"empty", noAud, "", ""},
		{"garbage", noAud, "not.a.token", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.want == "" {
				wantRefused(t, tt.tokens, tt.give)
				return
			}
			got, err := tt.tokens.Verify(tt.give)
			if err != nil || got != tt.want {
				t.Errorf("Verify = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestVerifyEdDSA(t *testing.T) {
	t.Parallel()
	_, first, _ := ed25519.GenerateKey(rand.Reader)
	_, second, _ := ed25519.GenerateKey(rand.Reader)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	pemFile := identitytest.WritePublicKeys(t, first.Public().(ed25519.PublicKey), second.Public().(ed25519.PublicKey))
	tokens := newTokens(t, identity.TokenConfig{PublicKeysFile: pemFile, Audience: audience})
	pemBytes := readFile(t, pemFile)
	der, err := x509.MarshalPKIXPublicKey(first.Public())
	if err != nil {
		t.Fatal(err)
	}
	claims := identitytest.Claims(buyer, inAnHour(), audience)
	for _, tt := range []struct {
		name string
		give string
		want string
	}{
		{"first key", identitytest.MintEdDSA(t, first, buyer, inAnHour(), audience), buyer},
		{"second key", identitytest.MintEdDSA(t, second, buyer, inAnHour(), audience), buyer},
		{"a key not in the file", identitytest.MintEdDSA(t, stranger, buyer, inAnHour(), audience), ""},
		{"expired", identitytest.MintEdDSA(t, first, buyer, start.Add(-time.Minute), audience), ""},
		{"wrong aud", identitytest.MintEdDSA(t, first, buyer, inAnHour(), "someone-else"), ""},
		{"bad sub", identitytest.MintEdDSA(t, first, "", inAnHour(), audience), ""},
		// Alg confusion: the public key, which anyone may have, used as an
		// HMAC secret.
		{"HS256 keyed with the PEM file", identitytest.Sign(t, jwt.SigningMethodHS256, pemBytes, claims), ""},
		{"HS256 keyed with the DER key", identitytest.Sign(t, jwt.SigningMethodHS256, der, claims), ""},
		{"HS256 keyed with the raw key", identitytest.Sign(t, jwt.SigningMethodHS256, []byte(first.Public().(ed25519.PublicKey)), claims), ""},
		{"alg none", identitytest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.want == "" {
				wantRefused(t, tokens, tt.give)
				return
			}
			got, err := tokens.Verify(tt.give)
			if err != nil || got != tt.want {
				t.Errorf("Verify = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestVerifyEdDSAAgainstHS256 is the other way round of alg confusion: a
// server with a shared secret never takes an EdDSA token, whoever signed it.
func TestVerifyEdDSAAgainstHS256(t *testing.T) {
	t.Parallel()
	priv, _ := identitytest.Ed25519KeyPair(t)
	tokens := newTokens(t, identity.TokenConfig{SecretFile: identitytest.WriteSecret(t, identitytest.NewSecret(t))})
	wantRefused(t, tokens, identitytest.MintEdDSA(t, priv, buyer, inAnHour(), ""))
}

func TestNewTokens(t *testing.T) {
	t.Parallel()
	secret := identitytest.NewSecret(t)
	_, pemFile := identitytest.Ed25519KeyPair(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(ecKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	privDER, err := x509.MarshalPKCS8PrivateKey(edPriv)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	file := func(data []byte) string { return identitytest.WriteFile(t, "file", data) }
	for _, tt := range []struct {
		name string
		give identity.TokenConfig
		want string // a part of the error; "" when accepted
	}{
		{"secret", identity.TokenConfig{SecretFile: file(secret)}, ""},
		{"secret and a newline", identity.TokenConfig{SecretFile: file(append(secret, '\n'))}, ""},
		{"secret and CRLF", identity.TokenConfig{SecretFile: file(append(secret, "\r\n"...))}, ""},
		{"public keys", identity.TokenConfig{PublicKeysFile: pemFile, CacheSize: 10}, ""},
		{"both", identity.TokenConfig{SecretFile: file(secret), PublicKeysFile: pemFile}, "not both"},
		{"neither", identity.TokenConfig{}, "no secret file"},
		{"short secret", identity.TokenConfig{SecretFile: file(secret[:31:31])}, "31 bytes, need at least 32"},
		{"short secret with newline", identity.TokenConfig{SecretFile: file(append(secret[:31:31], '\n'))}, "31 bytes"},
		{"missing secret file", identity.TokenConfig{SecretFile: t.TempDir() + "/absent"}, "no such file"},
		{"missing public keys file", identity.TokenConfig{PublicKeysFile: t.TempDir() + "/absent"}, "no such file"},
		{"empty public keys file", identity.TokenConfig{PublicKeysFile: file(nil)}, "no PEM public key"},
		{"not PEM", identity.TokenConfig{PublicKeysFile: file([]byte("ssh-ed25519 AAAA"))}, "not PEM"},
		{"text after a key", identity.TokenConfig{PublicKeysFile: file(append(readFile(t, pemFile), "junk"...))}, "text after key 1"},
		{"a private key", identity.TokenConfig{PublicKeysFile: file(pemOf("PRIVATE KEY", privDER))}, `block 1 is "PRIVATE KEY"`},
		{"an ECDSA key", identity.TokenConfig{PublicKeysFile: file(pemOf("PUBLIC KEY", ecDER))}, "want Ed25519"},
		{"a broken key", identity.TokenConfig{PublicKeysFile: file(pemOf("PUBLIC KEY", []byte("nope")))}, "key 1"},
		{"negative cache size", identity.TokenConfig{SecretFile: file(secret), CacheSize: -1}, "negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := identity.NewTokens(tt.give)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("NewTokens: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("NewTokens: %v, want an error with %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), string(secret)) {
				t.Errorf("NewTokens error %q repeats the secret", err)
			}
		})
	}
}

// TestNewTokensTrimsOneNewline checks the trimmed newline is not part of the
// secret, and that only one is trimmed.
func TestNewTokensTrimsOneNewline(t *testing.T) {
	t.Parallel()
	secret := identitytest.NewSecret(t)
	for _, tt := range []struct {
		name     string
		give     []byte
		signWith []byte
	}{
		{"LF", append(secret, '\n'), secret},
		{"CRLF", append(secret, "\r\n"...), secret},
		{"two LF", append(secret, "\n\n"...), append(secret, '\n')},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tokens := newTokens(t, identity.TokenConfig{SecretFile: identitytest.WriteSecret(t, tt.give)})
			if _, err := tokens.Verify(identitytest.Mint(t, tt.signWith, buyer, inAnHour(), "")); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyCache(t *testing.T) {
	t.Parallel()
	secret := identitytest.NewSecret(t)
	secretFile := identitytest.WriteSecret(t, secret)
	token := identitytest.Mint(t, secret, buyer, start.Add(time.Minute), "")

	t.Run("hit skips the parser", func(t *testing.T) {
		t.Parallel()
		tokens := newTokens(t, identity.TokenConfig{SecretFile: secretFile})
		for range 3 {
			if got, err := tokens.Verify(token); err != nil || got != buyer {
				t.Fatalf("Verify = %q, %v", got, err)
			}
		}
		if n := identity.Parsed(tokens); n != 1 {
			t.Errorf("parsed %d times, want 1", n)
		}
	})

	t.Run("expiry is checked on every hit", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		tokens := newTokens(t, identity.TokenConfig{SecretFile: secretFile, Now: clk.Now})
		if _, err := tokens.Verify(token); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Minute + identity.Leeway - time.Second)
		if _, err := tokens.Verify(token); err != nil {
			t.Fatalf("Verify within the leeway: %v", err)
		}
		clk.Add(time.Second)
		wantRefused(t, tokens, token)
	})

	t.Run("refusals are not cached", func(t *testing.T) {
		t.Parallel()
		tokens := newTokens(t, identity.TokenConfig{SecretFile: secretFile})
		forged := identitytest.Mint(t, identitytest.NewSecret(t), buyer, inAnHour(), "")
		wantRefused(t, tokens, forged)
		wantRefused(t, tokens, forged)
		if n, size := identity.Parsed(tokens), identity.CacheLen(tokens); n != 2 || size != 0 {
			t.Errorf("parsed %d times with %d cached, want 2 and 0", n, size)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		tokens := newTokens(t, identity.TokenConfig{SecretFile: secretFile, CacheSize: 2})
		for i := range 5 {
			sub := "buyer-" + string(rune('a'+i))
			if got, err := tokens.Verify(identitytest.Mint(t, secret, sub, inAnHour(), "")); err != nil || got != sub {
				t.Fatalf("Verify = %q, %v; want %q", got, err, sub)
			}
			if n := identity.CacheLen(tokens); n > 2 {
				t.Fatalf("%d tokens cached, bound is 2", n)
			}
		}
	})

	t.Run("a full cache drops an expired entry first", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		tokens := newTokens(t, identity.TokenConfig{SecretFile: secretFile, CacheSize: 2, Now: clk.Now})
		short := identitytest.Mint(t, secret, "short", start.Add(time.Second), "")
		long := identitytest.Mint(t, secret, "long", inAnHour(), "")
		for _, tok := range []string{short, long} {
			if _, err := tokens.Verify(tok); err != nil {
				t.Fatal(err)
			}
		}
		clk.Add(time.Minute)
		if _, err := tokens.Verify(identitytest.Mint(t, secret, "new", inAnHour(), "")); err != nil {
			t.Fatal(err)
		}
		before := identity.Parsed(tokens)
		if _, err := tokens.Verify(long); err != nil {
			t.Fatal(err)
		}
		if identity.Parsed(tokens) != before {
			t.Error("the live entry was evicted while an expired one stayed")
		}
	})
}

// TestVerifyConcurrent lets the race detector watch the cache.
func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	secret := identitytest.NewSecret(t)
	tokens := newTokens(t, identity.TokenConfig{SecretFile: identitytest.WriteSecret(t, secret), CacheSize: 4})
	var toks []string
	for i := range 8 {
		toks = append(toks, identitytest.Mint(t, secret, "buyer-"+string(rune('a'+i)), inAnHour(), ""))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				if _, err := tokens.Verify(toks[(g+i)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
