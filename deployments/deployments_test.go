// Package deployments_test checks the container, Compose and Kubernetes
// files of this folder as far as a machine without a Docker engine or a
// cluster can: they parse with the tools' own libraries, their settings
// are ones the service accepts, and they carry what production needs.
package deployments_test

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/seatres/reservation/bootstrap"
)

// settings are the environment variables the service reads, from the
// table its --help prints.
func settings(t *testing.T) []string {
	t.Helper()
	var b bytes.Buffer
	bootstrap.PrintSettings(&b)
	var names []string
	for _, line := range strings.Split(b.String(), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	if len(names) == 0 {
		t.Fatal("bootstrap.PrintSettings listed no setting")
	}
	return names
}

// loadConfig reads env (name to value) the way the service does, so a
// setting the service would refuse fails the test with its message.
func loadConfig(t *testing.T, env map[string]string) bootstrap.Config {
	t.Helper()
	environ := make([]string, 0, len(env))
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.Sources{Environ: environ})
	if err != nil {
		t.Fatalf("the service refuses this configuration: %v", err)
	}
	return cfg
}

// port is the port of a listen or dial address.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

// flagValue returns the word after flag in args ("" if absent), for
// command lines such as redis-server's.
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is one FROM of a Dockerfile and what follows it.
type stage struct {
	name         string // after AS, if any
	image        string
	instructions []instruction
}

// parseDockerfile reads the subset of the Dockerfile syntax our file uses:
// comments, backslash continuations and one instruction per line.
func parseDockerfile(t *testing.T, name string) []stage {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stages  []stage
		pending string
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" && pending == "" {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			pending += body + " "
			continue
		}
		line, pending = pending+line, ""
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", name, in.cmd)
		}
		last := &stages[len(stages)-1]
		last.instructions = append(last.instructions, in)
	}
	return stages
}

// shellCommands splits the RUN instructions of s into their commands (words
// of each part between &&), leaving out RUN's own --flags.
func (s stage) shellCommands() [][]string {
	var cmds [][]string
	for _, in := range s.instructions {
		if in.cmd != "RUN" {
			continue
		}
		for _, part := range strings.Split(strings.Join(withoutFlags(in.args), " "), "&&") {
			cmds = append(cmds, strings.Fields(part))
		}
	}
	return cmds
}

// withoutFlags returns the words of an instruction's arguments after its
// own --flags (RUN --mount=..., COPY --from=...).
func withoutFlags(args string) []string {
	words := strings.Fields(args)
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		words = words[1:]
	}
	return words
}

// find returns the arguments of the instructions of s named cmd.
func (s stage) find(cmd string) []string {
	var args []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			args = append(args, in.args)
		}
	}
	return args
}

// copiedFiles returns the paths that the COPY instructions of s create.
func (s stage) copiedFiles() map[string]bool {
	files := map[string]bool{}
	for _, args := range s.find("COPY") {
		words := withoutFlags(args)
		dst := words[len(words)-1]
		for _, src := range words[:len(words)-1] {
			if strings.HasSuffix(dst, "/") {
				files[path.Join(dst, path.Base(src))] = true
			} else {
				files[dst] = true
			}
		}
	}
	return files
}

var makeVar = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?=|:=|=)\s*(.*)$`)

// makeRecipe returns the recipe lines of target in the Makefile name, with
// its $(VAR) references to simple variables expanded.
func makeRecipe(t *testing.T, name, target string) []string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var (
		recipe []string
		in     bool
	)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "\t") {
			if in {
				recipe = append(recipe, strings.TrimLeft(strings.TrimSpace(line), "@-"))
			}
			continue
		}
		in = strings.HasPrefix(line, target+":")
		if m := makeVar.FindStringSubmatch(line); m != nil {
			vars[m[1]] = m[2]
		}
	}
	ref := regexp.MustCompile(`\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]`)
	for i := range recipe {
		for ref.MatchString(recipe[i]) {
			recipe[i] = ref.ReplaceAllStringFunc(recipe[i], func(r string) string {
				return vars[ref.FindStringSubmatch(r)[1]]
			})
		}
	}
	if len(recipe) == 0 {
		t.Fatalf("%s has no recipe for %s", name, target)
	}
	return recipe
}

// buildsService reports whether the words are the go build of the service.
func buildsService(words []string) bool {
	return slices.Contains(words, "build") && slices.Contains(words, "./cmd/reservation")
}

func TestDockerfileBuildsWhatMakeBuildBuilds(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}

	var docker []string
	for _, s := range stages[:len(stages)-1] {
		for _, words := range s.shellCommands() {
			if !slices.Contains(words, "build") || !slices.Contains(words, "go") {
				continue
			}
			// Every binary goes to a distroless image without libc.
			if !slices.Contains(words, "CGO_ENABLED=0") {
				t.Errorf("Dockerfile builds %q without CGO_ENABLED=0", strings.Join(words, " "))
			}
			if buildsService(words) {
				docker = words
			}
			// The probe runs every 10 s and is never debugged: stripped.
			if slices.Contains(words, "./deployments/healthprobe") && !strings.Contains(strings.Join(words, " "), `-trimpath -ldflags "-s -w"`) {
				t.Errorf("Dockerfile builds the probe with %q, want -trimpath -ldflags \"-s -w\"", strings.Join(words, " "))
			}
		}
	}
	if docker == nil {
		t.Fatal("no go build of ./cmd/reservation in the Dockerfile's build stages")
	}

	var made []string
	for _, line := range makeRecipe(t, "../Makefile", "build") {
		if words := strings.Fields(line); buildsService(words) {
			made = words
		}
	}
	if !slices.Equal(docker, made) {
		t.Errorf("Dockerfile builds with\n\t%s\nmake build with\n\t%s", strings.Join(docker, " "), strings.Join(made, " "))
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath"} {
		if !slices.Contains(made, want) {
			t.Errorf("make build lacks %s: %s", want, strings.Join(made, " "))
		}
	}
}

func TestDockerfileFinalImageIsMinimalNonRootAndChecksHealth(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, "Dockerfile")
	final := stages[len(stages)-1]

	if !strings.Contains(final.image, "distroless/static") || !strings.HasSuffix(final.image, ":nonroot") {
		t.Errorf("final image %s, want distroless static :nonroot", final.image)
	}
	users := final.find("USER")
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1], "root") || strings.HasPrefix(users[len(users)-1], "0") {
		t.Errorf("final stage USER %q, want a non-root user", users)
	}

	// The service listens where EXPOSE says and the health probe looks.
	env := map[string]string{}
	for _, args := range final.find("ENV") {
		k, v, _ := strings.Cut(args, "=")
		env[k] = v
	}
	cfg := loadConfig(t, env)
	if exposed := final.find("EXPOSE"); !slices.Equal(exposed, []string{port(t, cfg.HTTP.Addr)}) {
		t.Errorf("EXPOSE %q, want the service's port %s", exposed, port(t, cfg.HTTP.Addr))
	}

	copied := final.copiedFiles()
	checks := final.find("HEALTHCHECK")
	if len(checks) != 1 {
		t.Fatalf("final stage has %d HEALTHCHECK, want 1", len(checks))
	}
	probe := regexp.MustCompile(`CMD \["([^"]+)", "-path=/readyz"\]`).FindStringSubmatch(checks[0])
	if probe == nil || !copied[probe[1]] {
		t.Errorf("HEALTHCHECK %q does not run a copied probe of /readyz in exec form", checks[0])
	}
	entry := final.find("ENTRYPOINT")
	if len(entry) != 1 || !copied[strings.Trim(entry[0], `[]"`)] {
		t.Errorf("ENTRYPOINT %q is not the copied service binary", entry)
	}
}
