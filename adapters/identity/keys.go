// Package identity tells who is calling: an API key with scopes (a trusted
// back end) or a buyer token (a browser or app acting for one buyer). It knows
// nothing of HTTP; the middleware in adapters/httpapi asks it.
package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
)

// Scope is a permission that an API key grants.
type Scope string

// The scopes of issue #10. A key file naming any other is refused, so a typo
// never silently grants less (or more) than meant.
const (
	ScopeEventsWrite Scope = "events:write"
	ScopeSeatsWrite  Scope = "seats:write"
	ScopeHoldersRead Scope = "holders:read"
)

var knownScopes = []Scope{ScopeEventsWrite, ScopeSeatsWrite, ScopeHoldersRead}

// Key is an API key as configured: its name (for logs and metrics, never the
// secret) and scopes. Lookup hands out the configured Scopes themselves, not
// a copy (the request path allocates nothing): treat them as read-only.
type Key struct {
	Name   string
	Scopes []Scope
}

// Has reports whether the key grants s.
func (k Key) Has(s Scope) bool { return slices.Contains(k.Scopes, s) }

// Keys is the set of API keys from a YAML file, re-read on Reload.
type Keys struct {
	path string
	// reload serialises Reload, so two re-reads never race to publish.
	reload sync.Mutex
	// set is swapped whole, so Lookup on the request path takes no lock
	// and never sees half a file.
	set atomic.Pointer[[]entry]
}

type entry struct {
	digest [sha256.Size]byte
	key    Key
}

// LoadKeys parses and validates the key file at path.
func LoadKeys(path string) (*Keys, error) {
	k := &Keys{path: path}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload re-reads the file. On error the keys in force stay and the error is
// returned, so a broken edit never locks every client out.
func (k *Keys) Reload() error {
	k.reload.Lock()
	defer k.reload.Unlock()
	data, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("read API keys: %w", err)
	}
	set, err := parseKeys(data)
	if err != nil {
		return fmt.Errorf("API keys file %s: %w", k.path, err)
	}
	k.set.Store(&set)
	return nil
}

// Len returns the number of keys in force.
func (k *Keys) Len() int { return len(*k.set.Load()) }

// Names returns the names of the keys in force, in file order.
func (k *Keys) Names() []string {
	set := *k.set.Load()
	names := make([]string, len(set))
	for i, e := range set {
		names[i] = e.key.Name
	}
	return names
}

// Lookup returns the key whose secret this is. It compares the secret's
// SHA-256 against every configured digest in constant time and without an
// early exit, so the time taken tells nothing of which key (if any) is near.
func (k *Keys) Lookup(secret string) (Key, bool) {
	if secret == "" {
		// The length of an absent secret is no secret.
		return Key{}, false
	}
	digest := sha256.Sum256([]byte(secret))
	set := *k.set.Load()
	found, at := 0, 0
	for i := range set {
		eq := subtle.ConstantTimeCompare(digest[:], set[i].digest[:])
		at = subtle.ConstantTimeSelect(eq, i, at)
		found |= eq
	}
	if found == 0 {
		return Key{}, false
	}
	return set[at].key, true
}

// WatchSIGHUP re-reads the file on each SIGHUP until ctx ends. It registers
// for the signal before it returns (so a SIGHUP sent after it returns is never
// the default one, which ends the process) and watches in a goroutine of its
// own. Each re-read is logged with the key names and count, a failed one with
// its error; no secret is ever known here to be logged.
func (k *Keys) WatchSIGHUP(ctx context.Context, log *zap.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := k.Reload(); err != nil {
					log.Error("API keys not reloaded; the previous keys stay in force", zap.Error(err))
					continue
				}
				log.Info("API keys reloaded", zap.Int("count", k.Len()), zap.Strings("names", k.Names()))
			}
		}
	}()
}

// keyFile is the file's shape; KnownFields refuses anything else.
type keyFile struct {
	Keys []fileKey `yaml:"keys"`
}

type fileKey struct {
	Name   string   `yaml:"name"`
	SHA256 string   `yaml:"sha256"`
	Scopes []string `yaml:"scopes"`
}

// maxNameLen keeps a name fit for a metric label and a log field.
const maxNameLen = 64

// emptyDigest is the SHA-256 of "": a key with it would match a missing
// secret.
var emptyDigest = sha256.Sum256(nil)

// parseKeys decodes and validates a key file. Its errors name the line and
// the key's name, never the sha256 value: a wrong one is most likely the raw
// secret pasted in the wrong place.
func parseKeys(data []byte) ([]entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f keyFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file")
		}
		return nil, err
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	lines := keyLines(data)
	set := make([]entry, 0, len(f.Keys))
	names := make(map[string]bool, len(f.Keys))
	digests := make(map[[sha256.Size]byte]string, len(f.Keys))
	for i, fk := range f.Keys {
		e, err := fk.entry()
		if err == nil && names[fk.Name] {
			err = errors.New("name used twice")
		}
		if other, dup := digests[e.digest]; err == nil && dup {
			err = fmt.Errorf("same sha256 as key %q", other)
		}
		if err != nil {
			at := fmt.Sprintf("key %d %q", i+1, fk.Name)
			if i < len(lines) {
				at = fmt.Sprintf("line %d: %s", lines[i], at)
			}
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		names[fk.Name] = true
		digests[e.digest] = fk.Name
		set = append(set, e)
	}
	return set, nil
}

func (fk fileKey) entry() (entry, error) {
	if !validName(fk.Name) {
		return entry{}, fmt.Errorf("name must be 1 to %d of A-Z a-z 0-9 . _ -", maxNameLen)
	}
	e := entry{key: Key{Name: fk.Name}}
	if len(fk.SHA256) != hex.EncodedLen(sha256.Size) {
		return entry{}, errors.New("sha256 must be 64 hex characters (the digest, not the secret)")
	}
	if _, err := hex.Decode(e.digest[:], []byte(fk.SHA256)); err != nil {
		return entry{}, errors.New("sha256 must be 64 hex characters (the digest, not the secret)")
	}
	if e.digest == emptyDigest {
		return entry{}, errors.New("sha256 is the digest of an empty secret")
	}
	if len(fk.Scopes) == 0 {
		return entry{}, errors.New("no scopes")
	}
	for _, s := range fk.Scopes {
		switch {
		case !slices.Contains(knownScopes, Scope(s)):
			return entry{}, fmt.Errorf("unknown scope %q (known: %v)", s, knownScopes)
		case slices.Contains(e.key.Scopes, Scope(s)):
			return entry{}, fmt.Errorf("scope %q listed twice", s)
		}
		e.key.Scopes = append(e.key.Scopes, Scope(s))
	}
	return e, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// keyLines returns the line of each item of the keys list, as far as it can
// tell: a yaml.Node is the only place the decoder keeps positions, and the
// strict decode has already checked the shape.
func keyLines(data []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "keys" {
			list := root.Content[i+1]
			lines := make([]int, len(list.Content))
			for j, item := range list.Content {
				lines[j] = item.Line
			}
			return lines
		}
	}
	return nil
}
