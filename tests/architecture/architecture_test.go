// Package architecture checks the shape of the tree that the README and
// each package's doc describe: which parts of the module the code of each
// part may import (hexagonal: the rules at the centre, the use cases and
// their ports around them, the adapters outside, fx assembly and the mains
// last), and which outside modules the centre may use. A new package falls
// under the rule of its folder; one that no rule covers fails the test, so
// that its place is decided, not drifted into.
package architecture

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/seatres/reservation"

// rule says what the code (not the tests) of the packages under dir may
// import of this module: the folders in may, each with everything under it,
// and the package's own subfolders. The first rule whose dir holds a
// package is its rule.
type rule struct {
	dir string
	may []string
	why string
}

// testSupport are the folders of helpers for tests: the contract suite,
// generated mocks, throwaway servers, fixtures. The service's own code
// never imports them (see TestServiceCarriesNoTestCode).
var testSupport = []string{
	"application/storetest", "application/mocks",
	"adapters/redisstore/redistest", "adapters/identity/identitytest", "adapters/httpapi/browsertest",
	"tests",
}

var rules = []rule{
	{"domain", nil, "the seat rules import nothing of ours"},
	{"application/storetest", []string{"domain", "application"}, "the stores' contract suite, against the port"},
	{"application/mocks", []string{"domain", "application"}, "mockgen's mocks of the ports"},
	{"application", []string{"domain"}, "the use cases and their ports know the rules alone"},
	{"adapters/redisstore/redistest", nil, "throwaway Redis servers for tests"},
	{"adapters/identity/identitytest", []string{"adapters/identity"}, "key files and tokens for tests"},
	{"adapters/httpapi/browsertest", nil, "headless Chromium for tests"},
	// The HTTP adapter verifies the keys and tokens that identity loads
	// (over its own small interfaces, KeyRing and BuyerTokens) and serves
	// the spec that api embeds.
	{"adapters/httpapi", []string{"domain", "application", "adapters/identity", "api"}, "the driving adapter"},
	{"adapters", []string{"domain", "application"}, "a driven adapter implements ports; it knows no other adapter"},
	{"api", nil, "the contract and its generated client"},
	{"bootstrap", []string{"domain", "application", "adapters/httpapi", "adapters/identity", "adapters/memstore",
		"adapters/metrics", "adapters/redisstore", "adapters/tracing"}, "fx assembles the adapters around the use cases"},
	{"cmd/reservation", []string{"bootstrap"}, "the service's main only starts the assembly"},
	// The other mains are tools: a load benchmark that starts throwaway
	// Redis servers and talks to the service through the generated client,
	// the ceiling server, a token minter.
	{"cmd", []string{"domain", "api", "adapters/identity", "adapters/redisstore/redistest"}, "tools beside the service"},
	{"deployments", nil, "manifests, and a health probe built apart"},
	{"tests", []string{"domain", "application", "adapters", "api", "bootstrap", "tests"}, "system tests drive the whole service"},
}

// centre are the folders whose code may use only the standard library and
// the outside modules listed: the rules use none, the use cases only what
// any Go program might (ids, a logger, a wait group), never a framework, a
// driver or a wire format.
var centre = map[string][]string{
	"domain":      nil,
	"application": {"github.com/google/uuid", "go.uber.org/zap", "golang.org/x/sync/errgroup"},
}

type pkg struct {
	dir     string // slash-separated, relative to the module's root
	imports []string
}

// packages lists the module's packages, by reading their sources as the go
// command would for this platform.
func packages(t *testing.T) []pkg {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module's root: %v", err)
	}
	var pkgs []pkg
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		// The go command skips these too; bin holds npm's tree.
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "bin" || name == "node_modules") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if _, none := err.(*build.NoGoError); none {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, pkg{dir: filepath.ToSlash(rel), imports: p.Imports})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("found %d packages; the walk missed the tree", len(pkgs))
	}
	return pkgs
}

// under reports whether dir is folder or inside it.
func under(dir, folder string) bool { return dir == folder || strings.HasPrefix(dir, folder+"/") }

func ruleOf(dir string) (rule, bool) {
	for _, r := range rules {
		if under(dir, r.dir) {
			return r, true
		}
	}
	return rule{}, false
}

// ours is the folder of an import of this module, or false.
func ours(path string) (string, bool) {
	if path == module {
		return "", true
	}
	return strings.CutPrefix(path, module+"/")
}

func TestImportsFollowTheLayers(t *testing.T) {
	for _, p := range packages(t) {
		r, ok := ruleOf(p.dir)
		if !ok {
			t.Errorf("%s: no rule says what it may import; add one to rules", p.dir)
			continue
		}
		for _, imp := range p.imports {
			dir, ok := ours(imp)
			if !ok {
				continue
			}
			allowed := under(dir, p.dir) || slices.ContainsFunc(r.may, func(f string) bool { return under(dir, f) })
			if !allowed {
				t.Errorf("%s imports %s: under %q (%s) only %v may be imported", p.dir, dir, r.dir, r.why, r.may)
			}
		}
	}
}

func TestTheCentreUsesNoFramework(t *testing.T) {
	for _, p := range packages(t) {
		for folder, modules := range centre {
			if p.dir != folder {
				continue
			}
			for _, imp := range p.imports {
				if _, mine := ours(imp); mine || !strings.Contains(strings.Split(imp, "/")[0], ".") {
					continue // ours (TestImportsFollowTheLayers), or the standard library
				}
				if !slices.Contains(modules, imp) {
					t.Errorf("%s imports %s: it may use only the standard library and %v", p.dir, imp, modules)
				}
			}
		}
	}
}

// The service's code (all but the tools, the tests and their helpers)
// imports no helper of tests: none of them ships in the binary.
func TestServiceCarriesNoTestCode(t *testing.T) {
	isSupport := func(dir string) bool {
		return slices.ContainsFunc(testSupport, func(f string) bool { return under(dir, f) })
	}
	for _, p := range packages(t) {
		if isSupport(p.dir) || under(p.dir, "cmd") && p.dir != "cmd/reservation" {
			continue
		}
		for _, imp := range p.imports {
			if imp == "testing" {
				t.Errorf("%s imports testing", p.dir)
			}
			if dir, ok := ours(imp); ok && isSupport(dir) {
				t.Errorf("%s imports %s, a helper of tests", p.dir, dir)
			}
		}
	}
}
