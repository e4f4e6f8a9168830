package identity_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
)

// FuzzLookup feeds Lookup what an Authorization header may carry: it never
// panics, and finds a key exactly when given that key's secret.
func FuzzLookup(f *testing.F) {
	names, secrets := []string{"box-office", "shop"}, []string{"secret-box-office", "secret-shop"}
	keys, err := identity.LoadKeys(identitytest.WriteKeys(f, seats(names[0], secrets[0]), seats(names[1], secrets[1])))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range append(slices.Clone(secrets), "", "Bearer secret-shop", "secret-shop\x00", digest("secret-shop"), "\xff\xfe") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		key, ok := keys.Lookup(secret)
		if want := slices.Index(secrets, secret); ok != (want >= 0) || ok && key.Name != names[want] {
			t.Fatalf("Lookup(%q) = %q, %v", secret, key.Name, ok)
		}
	})
}

// FuzzVerify feeds Verify arbitrary tokens: it never panics, refuses with
// ErrInvalidToken, and accepts only the tokens signed here. Strict base64
// gives each signed token one spelling, so "signed here" is "one of the
// seeds that verified".
func FuzzVerify(f *testing.F) {
	secret := identitytest.NewSecret(f)
	tokens := newTokens(f, identity.TokenConfig{SecretFile: identitytest.WriteSecret(f, secret), Audience: audience, CacheSize: 8})
	signed := []string{
		identitytest.Mint(f, secret, buyer, inAnHour(), audience),
		identitytest.Mint(f, secret, "another buyer", inAnHour(), audience),
	}
	for _, s := range signed {
		f.Add(s)
	}
	for _, s := range []string{
		"",
		".",
		"..",
		"a.b.c",
		"eyJhbGciOiJub25lIn0.e30.",
		identitytest.Mint(f, secret, buyer, start.Add(-time.Minute), audience),
		identitytest.Mint(f, secret, buyer, inAnHour(), "other"),
		identitytest.Sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, identitytest.Claims(buyer, inAnHour(), audience)),
		identitytest.Sign(f, jwt.SigningMethodHS512, secret, identitytest.Claims(buyer, inAnHour(), audience)),
		flipPadding(signed[0]),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		sub, err := tokens.Verify(token)
		if err != nil {
			if !errors.Is(err, identity.ErrInvalidToken) {
				t.Fatalf("Verify error %v does not wrap ErrInvalidToken", err)
			}
			if slices.Contains(signed, token) {
				t.Fatalf("Verify refused a signed token: %v", err)
			}
			return
		}
		if !slices.Contains(signed, token) {
			t.Fatalf("Verify accepted %q for %q", token, sub)
		}
	})
}
