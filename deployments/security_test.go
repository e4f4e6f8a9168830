package deployments_test

import (
	"os"
	"path"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/bootstrap"
)

// devKeySecret is the development API key's secret that the README gives;
// k8s/base/auth/keys.yaml holds its SHA-256.
const devKeySecret = "dev-box-office-key"

// checkClosed fails t unless cfg runs the service as a sale needs it: API
// keys, buyer tokens and every rate limit and quota on, with credential
// files that the service accepts. files maps each path the service is
// given to the file of this folder that lands there.
func checkClosed(t *testing.T, cfg bootstrap.Config, files map[string]string) {
	t.Helper()
	local := func(p string) string {
		t.Helper()
		f, ok := files[p]
		if !ok {
			t.Fatalf("the service reads %s, which nothing of this folder provides", p)
		}
		return f
	}
	if cfg.Auth.KeysFile == "" || cfg.Auth.BuyerSecretFile == "" {
		t.Fatalf("auth %+v: want API keys and buyer tokens on", cfg.Auth)
	}
	keys, err := identity.LoadKeys(local(cfg.Auth.KeysFile))
	if err != nil {
		t.Fatalf("the service refuses its keys file: %v", err)
	}
	if k, ok := keys.Lookup(devKeySecret); !ok || !k.Has(identity.ScopeEventsWrite) || !k.Has(identity.ScopeSeatsWrite) {
		t.Errorf("the README's development key %q is not a key with events:write and seats:write (%+v)", devKeySecret, k)
	}
	if _, err := identity.NewTokens(identity.TokenConfig{SecretFile: local(cfg.Auth.BuyerSecretFile)}); err != nil {
		t.Errorf("the service refuses its buyer token secret: %v", err)
	}
	l := cfg.Limits
	for name, r := range map[string]bool{"buyer": l.Buyer.Off(), "IP": l.IP.Off(), "key": l.Key.Off(), "create": l.Create.Off()} {
		if r {
			t.Errorf("the %s rate limit is off", name)
		}
	}
	if cfg.EventsMaxPerKey == 0 {
		t.Error("no cap on the events of an API key")
	}
}

func TestComposeRunsClosed(t *testing.T) {
	t.Parallel()
	svc := service(t, loadCompose(t), "reservation")
	fixed := map[string]string{}
	for name, v := range svc.Environment {
		if v != nil {
			fixed[name] = *v
		}
	}
	files := map[string]string{}
	for _, v := range svc.Volumes {
		if v.Type != "bind" || !v.ReadOnly {
			continue
		}
		entries, err := os.ReadDir(v.Source)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			files[path.Join(v.Target, e.Name())] = path.Join(v.Source, e.Name())
		}
	}
	checkClosed(t, loadConfig(t, fixed), files)
}

func TestKustomizeBaseRunsClosed(t *testing.T) {
	t.Parallel()
	o := render(t, "k8s/base")
	pod := one(t, "Deployments", o.deployments).Spec.Template.Spec
	c := one(t, "containers in the service's pod", pod.Containers)
	secrets := map[string]corev1.Secret{}
	for _, s := range o.secrets {
		secrets[s.Name] = s
	}
	// The Secret's files are written where the service reads them, and
	// compared with this folder's: the test reads the local copies.
	files := map[string]string{}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			s, ok := secrets[v.Secret.SecretName]
			if !ok {
				t.Fatalf("volume %s mounts the Secret %s, which the base does not make", v.Name, v.Secret.SecretName)
			}
			for name, data := range s.Data {
				local := path.Join("k8s/base/auth", name)
				b, err := os.ReadFile(local)
				if err != nil || string(b) != string(data) {
					t.Fatalf("Secret %s's %s is not %s (%v)", s.Name, name, local, err)
				}
				files[path.Join(m.MountPath, name)] = local
			}
		}
	}
	cfg := loadConfig(t, one(t, "ConfigMaps", o.configMaps).Data)
	checkClosed(t, cfg, files)
	if pod.SecurityContext == nil || pod.SecurityContext.FSGroup == nil || pod.SecurityContext.RunAsGroup == nil ||
		*pod.SecurityContext.FSGroup != *pod.SecurityContext.RunAsGroup {
		t.Error("the pod's fsGroup is not its group: the service could not read the Secret's group-readable files")
	}
}
