package client_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/seatres/reservation/api"
	"github.com/seatres/reservation/api/client"
)

// TestGeneratedCodeIsFresh runs the //go:generate line of generate.go into
// a temporary file and fails when client.gen.go differs from it: the spec,
// the overlay or the configuration changed without a `go generate
// ./api/...`.
func TestGeneratedCodeIsFresh(t *testing.T) {
	t.Parallel()
	args := generateArgs(t)
	fresh := filepath.Join(t.TempDir(), "client.gen.go")
	args[slices.Index(args, "-o")+1] = fresh
	cmd := exec.Command(args[0], args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("client.gen.go is stale: run `go generate ./api/...` and commit it; first difference:\n%s", firstDifference(got, want))
	}
}

// generateArgs is the command of generate.go's //go:generate line, which
// must run oapi-codegen as a tool of the module and name its output with -o
// (the configuration file would win over the flag).
func generateArgs(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(src)) {
		if cmd, ok := strings.CutPrefix(line, "//go:generate "); ok {
			args := strings.Fields(cmd)
			if o := slices.Index(args, "-o"); len(args) < 4 || strings.Join(args[:3], " ") != "go tool oapi-codegen" || o < 0 || o == len(args)-1 {
				t.Fatalf("generate.go runs %q, want go tool oapi-codegen -o <file> with its other arguments", cmd)
			}
			return args
		}
	}
	t.Fatal("generate.go has no //go:generate line")
	return nil
}

// firstDifference is the first line that differs between got and want.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n  committed: %s\n  generated: %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("committed %d lines, generated %d", len(g), len(w))
}

// TestEveryOperation checks that the client has a method for every
// operation of the served spec, so that no option of the configuration or
// the overlay leaves one out.
func TestEveryOperation(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	iface := reflect.TypeFor[client.ClientWithResponsesInterface]()
	for i := range iface.NumMethod() {
		methods[strings.ToLower(iface.Method(i).Name)] = true
	}
	operations := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			operations++
			// oapi-codegen names the method after the operationId, with
			// Go's capitals.
			if !methods[strings.ToLower(op.OperationID)+"withresponse"] {
				t.Errorf("%s %s (operationId %q) has no method in ClientWithResponsesInterface", method, path, op.OperationID)
			}
		}
	}
	if operations == 0 {
		t.Fatal("the spec has no operation")
	}
}
