package deployments_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads the Compose file as `docker compose` would, with an
// empty environment so that the test sees the file's own values.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"docker-compose.yml"}, cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return project
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestComposeServiceIsBuiltFromTheDockerfileAndWaitsForRedis(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	svc := service(t, p, "reservation")

	if svc.Build == nil {
		t.Fatal("reservation has no build section")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Build.Context != root || filepath.Join(root, svc.Build.Dockerfile) != filepath.Join(root, "deployments", "Dockerfile") {
		t.Errorf("reservation is built from %s in %s, want deployments/Dockerfile in the repository root", svc.Build.Dockerfile, svc.Build.Context)
	}
	if dep, ok := svc.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("reservation depends_on redis = %+v, want condition service_healthy", svc.DependsOn)
	}
	final := parseDockerfile(t, "Dockerfile")
	probe := []string{"CMD"}
	for _, check := range final[len(final)-1].find("HEALTHCHECK") {
		_, cmd, _ := strings.Cut(check, "CMD [")
		for _, w := range strings.Split(strings.TrimSuffix(cmd, "]"), ",") {
			probe = append(probe, strings.Trim(w, ` "`))
		}
	}
	if hc := svc.HealthCheck; hc == nil || !slices.Equal(hc.Test, probe) {
		t.Errorf("reservation healthcheck = %+v, want the image's probe of /readyz %q", svc.HealthCheck, probe)
	}
}

func TestComposeServiceIsConfiguredThroughTheServicesVariables(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	svc := service(t, p, "reservation")

	// Every setting is there, so that a user can set any of them.
	for _, name := range settings(t) {
		if _, ok := svc.Environment[name]; !ok {
			t.Errorf("reservation's environment lacks %s", name)
		}
	}
	fixed := map[string]string{}
	for name, v := range svc.Environment {
		if !strings.HasPrefix(name, "RESERVATION_") {
			t.Errorf("reservation's environment sets %s, which the service does not read", name)
		}
		if v != nil {
			fixed[name] = *v
		}
	}
	cfg := loadConfig(t, fixed)

	if len(cfg.Redis.Addrs) != 1 {
		t.Fatalf("RESERVATION_REDIS_ADDRS = %q, want the one Redis service", cfg.Redis.Addrs)
	}
	// The one Redis has no replica: waiting for one would fail every
	// reservation.
	if cfg.Redis.ReplicaAcks != 0 {
		t.Errorf("RESERVATION_REDIS_REPLICA_ACKS = %d, want 0 with a standalone Redis", cfg.Redis.ReplicaAcks)
	}
	host := strings.Split(cfg.Redis.Addrs[0], ":")[0]
	if _, err := p.GetService(host); err != nil {
		t.Errorf("RESERVATION_REDIS_ADDRS names %s, which is no service of the file", host)
	}
	published := false
	for _, pc := range svc.Ports {
		published = published || pc.Published != "" && strconv.FormatUint(uint64(pc.Target), 10) == port(t, cfg.HTTP.Addr)
	}
	if !published {
		t.Errorf("reservation publishes %+v, not the port it listens on (%s)", svc.Ports, cfg.HTTP.Addr)
	}
	// Docker's default of 10s would kill the service in the middle of its
	// graceful shutdown.
	if svc.StopGracePeriod == nil || time.Duration(*svc.StopGracePeriod) <= cfg.HTTP.ShutdownTimeout {
		t.Errorf("stop_grace_period %v, want more than the shutdown timeout %v", svc.StopGracePeriod, cfg.HTTP.ShutdownTimeout)
	}
	if !svc.ReadOnly || !slices.Contains(svc.CapDrop, "ALL") {
		t.Errorf("reservation read_only %v, cap_drop %q; want a read-only root and no capabilities", svc.ReadOnly, svc.CapDrop)
	}
}

func TestComposeRedisPersistsWithAOFOnANamedVolume(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	redis := service(t, p, "redis")

	if got := flagValue(redis.Command, "--appendonly"); got != "yes" {
		t.Errorf("redis --appendonly %q, want yes (command %q)", got, redis.Command)
	}
	wantFsyncAlways(t, redis.Command)
	if hc := redis.HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "redis-cli ping") {
		t.Errorf("redis healthcheck = %+v, want redis-cli ping", redis.HealthCheck)
	}
	data := slices.IndexFunc(redis.Volumes, func(v types.ServiceVolumeConfig) bool {
		_, named := p.Volumes[v.Source]
		return v.Type == types.VolumeTypeVolume && v.Target == "/data" && named
	})
	if data < 0 {
		t.Errorf("redis volumes %+v, want a named volume on /data", redis.Volumes)
	}
}
