package identity_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
)

func digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// pastedSecret is what a sha256 field holds when the secret itself was
// pasted there; no error may repeat it.
const pastedSecret = "dev-key-box-office-0123456789"

func TestLoadKeys(t *testing.T) {
	t.Parallel()
	a, b := digest("secret-a"), digest("secret-b")
	for _, tt := range []struct {
		name string
		give string
		want string // a part of the error; "" for a valid file
	}{
		{"valid", "keys:\n  - name: box-office\n    sha256: " + a + "\n    scopes: [events:write, seats:write, holders:read]\n  - name: shop_2.eu\n    sha256: " + strings.ToUpper(b) + "\n    scopes: [seats:write]\n", ""},
		{"empty file", "", "empty file"},
		{"only a comment", "# nothing\n", "empty file"},
		{"no keys", "keys: []\n", "no keys"},
		{"null keys", "keys:\n", "no keys"},
		{"unknown top-level field", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: [seats:write]\nversion: 2\n", "line 5: field version not found"},
		{"unknown key field", "keys:\n  - name: a\n    sha256: " + a + "\n    secret: x\n    scopes: [seats:write]\n", "line 4: field secret not found"},
		{"misspelt field", "keys:\n  - name: a\n    sha256: " + a + "\n    scope: [seats:write]\n", "field scope not found"},
		{"scopes not a list", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: seats:write\n", "line 4"},
		{"not YAML", "keys: [\n", "line"},
		{"two documents", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: [seats:write]\n---\nkeys: []\n", "more than one YAML document"},
		{"duplicate field", "keys:\n  - name: a\n    name: b\n    sha256: " + a + "\n    scopes: [seats:write]\n", "already defined"},
		{"empty name", "keys:\n  - name: \"\"\n    sha256: " + a + "\n    scopes: [seats:write]\n", `line 2: key 1 "": name must be`},
		{"no name", "keys:\n  - sha256: " + a + "\n    scopes: [seats:write]\n", "line 2: key 1"},
		{"name with a space", "keys:\n  - name: box office\n    sha256: " + a + "\n    scopes: [seats:write]\n", "name must be"},
		{"name too long", "keys:\n  - name: " + strings.Repeat("n", 65) + "\n    sha256: " + a + "\n    scopes: [seats:write]\n", "name must be"},
		{"duplicate name", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: [seats:write]\n  - name: a\n    sha256: " + b + "\n    scopes: [seats:write]\n", `line 5: key 2 "a": name used twice`},
		{"secret pasted as sha256", "keys:\n  - name: a\n    sha256: " + pastedSecret + "\n    scopes: [seats:write]\n", "sha256 must be 64 hex"},
		{"sha256 too long", "keys:\n  - name: a\n    sha256: " + a + "0\n    scopes: [seats:write]\n", "sha256 must be 64 hex"},
		{"sha256 not hex", "keys:\n  - name: a\n    sha256: " + strings.Repeat("g", 64) + "\n    scopes: [seats:write]\n", "sha256 must be 64 hex"},
		{"no sha256", "keys:\n  - name: a\n    scopes: [seats:write]\n", "sha256 must be 64 hex"},
		{"digest of the empty secret", "keys:\n  - name: a\n    sha256: " + digest("") + "\n    scopes: [seats:write]\n", "empty secret"},
		{"duplicate digest", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: [seats:write]\n  - name: b\n    sha256: " + strings.ToUpper(a) + "\n    scopes: [seats:write]\n", `line 5: key 2 "b": same sha256 as key "a"`},
		{"unknown scope", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: [seats:read]\n", `unknown scope "seats:read"`},
		{"no scopes", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: []\n", "no scopes"},
		{"scope twice", "keys:\n  - name: a\n    sha256: " + a + "\n    scopes: [seats:write, seats:write]\n", "listed twice"},
		{"key repeated by an alias", "keys:\n  - &k\n    name: a\n    sha256: " + a + "\n    scopes: [seats:write]\n  - *k\n", `line 6: key 2 "a": name used twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := identitytest.WriteFile(t, "keys.yaml", []byte(tt.give))
			keys, err := identity.LoadKeys(path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("LoadKeys: %v", err)
				}
				if keys.Len() != 2 {
					t.Errorf("Len = %d, want 2", keys.Len())
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadKeys accepted the file, want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), pastedSecret) {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
}

func TestLoadKeysMissingFile(t *testing.T) {
	t.Parallel()
	if _, err := identity.LoadKeys(t.TempDir() + "/absent.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadKeys of a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	keys, err := identity.LoadKeys(identitytest.WriteKeys(t,
		identitytest.Key{Name: "box-office", Secret: "secret-box-office", Scopes: []identity.Scope{identity.ScopeEventsWrite, identity.ScopeSeatsWrite, identity.ScopeHoldersRead}},
		identitytest.Key{Name: "shop", Secret: "secret-shop", Scopes: []identity.Scope{identity.ScopeSeatsWrite}},
	))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		give     string
		wantName string // "" for no key
	}{
		{"secret-box-office", "box-office"},
		{"secret-shop", "shop"},
		{"secret-sho", ""},
		{"secret-shop ", ""},
		{"SECRET-SHOP", ""},
		{digest("secret-shop"), ""}, // the digest is not the secret
		{"", ""},
	} {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			key, ok := keys.Lookup(tt.give)
			if ok != (tt.wantName != "") || key.Name != tt.wantName {
				t.Errorf("Lookup(%q) = %q, %v; want %q", tt.give, key.Name, ok, tt.wantName)
			}
		})
	}
	if got := keys.Names(); !slices.Equal(got, []string{"box-office", "shop"}) {
		t.Errorf("Names = %q", got)
	}
}

func TestKeyHas(t *testing.T) {
	t.Parallel()
	key := identity.Key{Name: "shop", Scopes: []identity.Scope{identity.ScopeSeatsWrite, identity.ScopeHoldersRead}}
	for _, tt := range []struct {
		give identity.Scope
		want bool
	}{
		{identity.ScopeSeatsWrite, true},
		{identity.ScopeHoldersRead, true},
		{identity.ScopeEventsWrite, false},
		{"", false},
	} {
		if got := key.Has(tt.give); got != tt.want {
			t.Errorf("Has(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func seats(name, secret string) identitytest.Key {
	return identitytest.Key{Name: name, Secret: secret, Scopes: []identity.Scope{identity.ScopeSeatsWrite}}
}

// rewrite replaces the file at path with the key file of keys.
func rewrite(t *testing.T, path string, keys ...identitytest.Key) {
	t.Helper()
	overwrite(t, path, readFile(t, identitytest.WriteKeys(t, keys...)))
}

func overwrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func wantKeys(t *testing.T, keys *identity.Keys, secrets map[string]bool) {
	t.Helper()
	for secret, want := range secrets {
		if _, ok := keys.Lookup(secret); ok != want {
			t.Errorf("Lookup(%q) = %v, want %v", secret, ok, want)
		}
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	path := identitytest.WriteKeys(t, seats("old", "secret-old"))
	keys, err := identity.LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}

	overwrite(t, path, []byte("keys:\n  - name: new\n    sha256: "+pastedSecret+"\n"))
	if err := keys.Reload(); err == nil || strings.Contains(err.Error(), pastedSecret) {
		t.Fatalf("Reload of a broken file: %v, want an error without the secret", err)
	}
	wantKeys(t, keys, map[string]bool{"secret-old": true})

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := keys.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Reload of a removed file: %v, want os.ErrNotExist", err)
	}
	wantKeys(t, keys, map[string]bool{"secret-old": true})

	rewrite(t, path, seats("new", "secret-new"))
	if err := keys.Reload(); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, keys, map[string]bool{"secret-old": false, "secret-new": true})
}

// TestWatchSIGHUP sends SIGHUP to the test's own process. It is the only
// test that does: a second watcher would see this test's signals.
func TestWatchSIGHUP(t *testing.T) {
	t.Parallel()
	path := identitytest.WriteKeys(t, seats("old", "secret-old"))
	keys, err := identity.LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	// Hooks run after the core has written the entry, so once the test
	// receives it, the reload it reports is done and the line is in out.
	var out bytes.Buffer
	logged := make(chan zapcore.Entry, 1)
	log := zap.New(
		zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&out), zap.InfoLevel),
		zap.Hooks(func(e zapcore.Entry) error { logged <- e; return nil }),
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys.WatchSIGHUP(ctx, log)

	hangUp := func() zapcore.Entry {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		return <-logged
	}

	rewrite(t, path, seats("old", "secret-old"), seats("new", "secret-new"))
	if e := hangUp(); e.Level != zapcore.InfoLevel {
		t.Fatalf("reload logged %q at %v", e.Message, e.Level)
	}
	wantKeys(t, keys, map[string]bool{"secret-old": true, "secret-new": true})
	var line struct {
		Count int
		Names []string
	}
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line.Count != 2 || !slices.Equal(line.Names, []string{"old", "new"}) {
		t.Errorf("reload logged %s, want count 2 and names [old new]", out.Bytes())
	}

	overwrite(t, path, []byte("keys: [\n"))
	if e := hangUp(); e.Level != zapcore.ErrorLevel {
		t.Fatalf("failed reload logged %q at %v, want an error", e.Message, e.Level)
	}
	wantKeys(t, keys, map[string]bool{"secret-old": true, "secret-new": true})

	for _, secret := range []string{"secret-old", "secret-new", digest("secret-old"), digest("secret-new")} {
		if bytes.Contains(out.Bytes(), []byte(secret)) {
			t.Errorf("the log holds %q:\n%s", secret, out.Bytes())
		}
	}
}

// TestKeysConcurrent lets the race detector watch Lookup during reloads.
func TestKeysConcurrent(t *testing.T) {
	t.Parallel()
	path := identitytest.WriteKeys(t, seats("a", "secret-a"))
	keys, err := identity.LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if _, ok := keys.Lookup("secret-a"); !ok {
					t.Error("Lookup lost the key during a reload")
					return
				}
			}
		})
	}
	for range 20 {
		if err := keys.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
