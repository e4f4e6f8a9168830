package bootstrap

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The README's table and .env.example are written by hand; these tests keep
// them in step with the settings table.

func TestREADMEListsEverySetting(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		def := "(empty)"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		row := fmt.Sprintf("| `%s` | `%s` | %s | %s |", s.env, s.key, def, s.meaning)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}

func TestEnvExampleHoldsTheDefaults(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if line := s.env + "=" + s.def + "\n"; !strings.Contains(string(example), line) {
			t.Errorf(".env.example lacks the line %q", line)
		}
	}
	got, err := LoadConfig(Sources{DotEnv: "../.env.example"})
	if err != nil {
		t.Fatal(err)
	}
	if want := config(t); !reflect.DeepEqual(got, want) {
		t.Errorf(".env.example gives %+v, want the defaults %+v", got, want)
	}
}
