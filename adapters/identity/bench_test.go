package identity_test

import (
	"testing"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
)

// BenchmarkLookup is the cost of an API key on each request, with as many
// keys configured as a deployment might have.
func BenchmarkLookup(b *testing.B) {
	var keys []identitytest.Key
	for _, name := range []string{"box-office", "shop", "partner-a", "partner-b", "admin"} {
		keys = append(keys, seats(name, "secret-"+name))
	}
	k, err := identity.LoadKeys(identitytest.WriteKeys(b, keys...))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := k.Lookup("secret-admin"); !ok {
			b.Fatal("no key")
		}
	}
}

// BenchmarkVerify is the cost of a buyer token on each request: once cached
// (a buyer's later requests) and when the signature is checked each time
// (a cache of one entry, alternating two tokens).
func BenchmarkVerify(b *testing.B) {
	secret := identitytest.NewSecret(b)
	priv, pemFile := identitytest.Ed25519KeyPair(b)
	for _, tt := range []struct {
		name   string
		cfg    identity.TokenConfig
		tokens [2]string
	}{
		{"HS256", identity.TokenConfig{SecretFile: identitytest.WriteSecret(b, secret)}, [2]string{
			identitytest.Mint(b, secret, "a", inAnHour(), ""), identitytest.Mint(b, secret, "b", inAnHour(), ""),
		}},
		{"EdDSA", identity.TokenConfig{PublicKeysFile: pemFile}, [2]string{
			identitytest.MintEdDSA(b, priv, "a", inAnHour(), ""), identitytest.MintEdDSA(b, priv, "b", inAnHour(), ""),
		}},
	} {
		b.Run(tt.name+"/cached", func(b *testing.B) {
			tokens := newTokens(b, tt.cfg)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tokens.Verify(tt.tokens[0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tt.name+"/uncached", func(b *testing.B) {
			cfg := tt.cfg
			cfg.CacheSize = 1
			tokens := newTokens(b, cfg)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := tokens.Verify(tt.tokens[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
