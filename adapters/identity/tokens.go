package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatres/reservation/domain"
)

// ErrInvalidToken is wrapped by every refusal of Verify.
var ErrInvalidToken = errors.New("invalid buyer token")

// TokenConfig configures buyer tokens. Exactly one of SecretFile (HS256) and
// PublicKeysFile (EdDSA) is set.
type TokenConfig struct {
	// SecretFile holds the HS256 shared secret: the file's raw bytes less
	// one trailing newline, at least 32 bytes.
	SecretFile string
	// PublicKeysFile holds one or more PEM "PUBLIC KEY" blocks of Ed25519
	// keys; a token signed by any of them is accepted (key rotation).
	PublicKeysFile string
	// Audience, when set, must be one of the token's aud.
	Audience string
	// CacheSize bounds the verified tokens kept; 0 means DefaultCacheSize.
	CacheSize int
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// DefaultCacheSize is the cache bound when TokenConfig.CacheSize is 0: at
// about 100 bytes an entry, 10 MB for as many buyers active at once.
const DefaultCacheSize = 100_000

// MinSecretLen is the shortest HS256 secret accepted: 256 bits, the size of
// the HMAC's hash (RFC 7518 section 3.2).
const MinSecretLen = 32

// Leeway is how far past exp (or before nbf) a token is still accepted. The
// ticketing site that issues tokens keeps its own clock; a few seconds of
// skew must not make fresh tokens fail, while an expired token must not live
// on noticeably.
const Leeway = 5 * time.Second

// maxTokenLen bounds the work an anonymous client can ask of Verify (base64
// and JSON decoding happen before the signature is checked). A buyer token
// with sub, exp and aud is a few hundred bytes.
const maxTokenLen = 4096

// Tokens verifies buyer tokens (JWT): HS256 with a shared secret, or EdDSA
// with PEM Ed25519 public keys. It is safe for concurrent use.
type Tokens struct {
	parser *jwt.Parser
	key    any // []byte or jwt.VerificationKeySet of ed25519.PublicKey
	now    func() time.Time
	cache  *cache
	// parsed counts cache misses (tokens handed to the parser), so tests
	// can tell a hit.
	parsed atomic.Int64
}

// NewTokens reads the secret or the public keys named in cfg.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	var (
		key any
		alg string
		err error
	)
	switch {
	case cfg.SecretFile != "" && cfg.PublicKeysFile != "":
		return nil, errors.New("buyer tokens: set a secret file or a public keys file, not both")
	case cfg.SecretFile != "":
		alg = jwt.SigningMethodHS256.Alg()
		key, err = ReadSecret(cfg.SecretFile)
	case cfg.PublicKeysFile != "":
		alg = jwt.SigningMethodEdDSA.Alg()
		key, err = readPublicKeys(cfg.PublicKeysFile)
	default:
		return nil, errors.New("buyer tokens: no secret file or public keys file")
	}
	if err != nil {
		return nil, fmt.Errorf("buyer tokens: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.CacheSize < 0 {
		return nil, fmt.Errorf("buyer tokens: cache size %d is negative", cfg.CacheSize)
	}
	opts := []jwt.ParserOption{
		// One algorithm, fixed by the configuration, never by the token:
		// no "none", and an HS256 token is never checked with a public key
		// as its HMAC secret (or the other way round).
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(cfg.Now),
		// One encoding per signature, so a token accepted once has exactly
		// one spelling (and one cache entry).
		jwt.WithStrictDecoding(),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Tokens{
		parser: jwt.NewParser(opts...),
		key:    key,
		now:    cfg.Now,
		cache:  newCache(cfg.CacheSize),
	}, nil
}

// Verify returns the buyer a token acts for: its sub, which domain.NewUserID
// accepts. The token must be signed with the configured algorithm and key,
// carry an exp in the future and, when an audience is configured, name it.
// A verified token is remembered until its exp, so a buyer's next requests
// skip the signature. Every error wraps ErrInvalidToken.
func (t *Tokens) Verify(token string) (string, error) {
	if len(token) > maxTokenLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	// The cache is keyed by the token's digest rather than the token: an
	// entry's size does not depend on what a client sends, and the heap
	// holds no usable bearer credentials.
	id := sha256.Sum256([]byte(token))
	now := t.now()
	if buyer, ok := t.cache.get(id, now); ok {
		return buyer, nil
	}
	var claims jwt.RegisteredClaims
	t.parsed.Add(1)
	if _, err := t.parser.ParseWithClaims(token, &claims, t.keyFunc); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if _, err := domain.NewUserID(claims.Subject); err != nil {
		// The sub is not quoted: it is the client's text and may hold
		// anything a log line should not.
		return "", fmt.Errorf("%w: sub is not a valid buyer id", ErrInvalidToken)
	}
	// Only verified tokens are cached. Remembering refusals would let a
	// flood of forged tokens push out real buyers (or need a second bound);
	// refusing a forgery again costs one signature check, which the per-IP
	// rate limit bounds.
	t.cache.put(id, claims.Subject, claims.ExpiresAt.Add(Leeway), now)
	return claims.Subject, nil
}

// keyFunc hands the parser the configured key whatever the token's header
// says; WithValidMethods has already pinned the algorithm.
func (t *Tokens) keyFunc(*jwt.Token) (any, error) { return t.key, nil }

// ReadSecret reads an HS256 secret file as the service does: one trailing
// newline (LF or CRLF) is no part of the secret, which must be at least
// MinSecretLen bytes.
func ReadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	// Editors and `echo` add a newline that is not meant to be part of the
	// secret; only one is taken off, so a secret may still end in one.
	if bytes.HasSuffix(b, []byte("\r\n")) {
		b = b[:len(b)-2]
	} else {
		b = bytes.TrimSuffix(b, []byte("\n"))
	}
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("secret file %s: %d bytes, need at least %d", path, len(b), MinSecretLen)
	}
	return b, nil
}

func readPublicKeys(path string) (jwt.VerificationKeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return jwt.VerificationKeySet{}, fmt.Errorf("read public keys: %w", err)
	}
	var set jwt.VerificationKeySet
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				return set, fmt.Errorf("public keys file %s: text after key %d is not PEM", path, len(set.Keys))
			}
			break
		}
		n := len(set.Keys) + 1
		if block.Type != "PUBLIC KEY" {
			// A private key here is a mistake worth stopping for.
			return set, fmt.Errorf("public keys file %s: block %d is %q, want \"PUBLIC KEY\"", path, n, block.Type)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return set, fmt.Errorf("public keys file %s: key %d: %w", path, n, err)
		}
		ed, ok := pub.(ed25519.PublicKey)
		if !ok {
			return set, fmt.Errorf("public keys file %s: key %d is %T, want Ed25519", path, n, pub)
		}
		set.Keys = append(set.Keys, ed)
	}
	if len(set.Keys) == 0 {
		return set, fmt.Errorf("public keys file %s: no PEM public key", path)
	}
	return set, nil
}
