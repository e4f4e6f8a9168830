package deployments_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/seatres/reservation/bootstrap"
)

// objects is a rendered kustomization, decoded strictly into the API's
// types, so that a misspelt field fails the test instead of being dropped
// by the cluster.
type objects struct {
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	jobs         []batchv1.Job
	services     []corev1.Service
	configMaps   []corev1.ConfigMap
	secrets      []corev1.Secret
	hpas         []autoscalingv2.HorizontalPodAutoscaler
	pdbs         []policyv1.PodDisruptionBudget
	// The Prometheus Operator's: monitoring_test.go checks them.
	podMonitors     []monitoringv1.PodMonitor
	prometheusRules []monitoringv1.PrometheusRule
}

// kustomizing serialises the builds of parallel tests: kustomize's kyaml
// loads its OpenAPI schemas into package globals on first use, without a
// lock, and two builds applying patches at once race on them.
var kustomizing sync.Mutex

func render(t *testing.T, dir string) objects {
	t.Helper()
	kustomizing.Lock()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	kustomizing.Unlock()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var o objects
	for _, r := range resources.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		switch kind := r.GetKind(); kind {
		case "Deployment":
			o.deployments = append(o.deployments, decode[appsv1.Deployment](t, data))
		case "StatefulSet":
			o.statefulSets = append(o.statefulSets, decode[appsv1.StatefulSet](t, data))
		case "Job":
			o.jobs = append(o.jobs, decode[batchv1.Job](t, data))
		case "Service":
			o.services = append(o.services, decode[corev1.Service](t, data))
		case "ConfigMap":
			o.configMaps = append(o.configMaps, decode[corev1.ConfigMap](t, data))
		case "Secret":
			o.secrets = append(o.secrets, decode[corev1.Secret](t, data))
		case "HorizontalPodAutoscaler":
			o.hpas = append(o.hpas, decode[autoscalingv2.HorizontalPodAutoscaler](t, data))
		case "PodDisruptionBudget":
			o.pdbs = append(o.pdbs, decode[policyv1.PodDisruptionBudget](t, data))
		case "PodMonitor":
			o.podMonitors = append(o.podMonitors, decode[monitoringv1.PodMonitor](t, data))
		case "PrometheusRule":
			o.prometheusRules = append(o.prometheusRules, decode[monitoringv1.PrometheusRule](t, data))
		default:
			t.Errorf("%s renders a %s, which this test does not check", dir, kind)
		}
	}
	return o
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		t.Fatalf("%v in\n%s", err, data)
	}
	return v
}

// one returns the only element of xs, failing the test otherwise.
func one[T any](t *testing.T, what string, xs []T) T {
	t.Helper()
	if len(xs) != 1 {
		t.Fatalf("%d %s, want 1", len(xs), what)
	}
	return xs[0]
}

// workload is a pod template and the name of what owns it.
type workload struct {
	name string
	pod  corev1.PodTemplateSpec
	// long-running pods need probes; a Job's do not.
	serves bool
}

func (o objects) workloads() []workload {
	var w []workload
	for _, d := range o.deployments {
		w = append(w, workload{name: "Deployment " + d.Name, pod: d.Spec.Template, serves: true})
	}
	for _, s := range o.statefulSets {
		w = append(w, workload{name: "StatefulSet " + s.Name, pod: s.Spec.Template, serves: true})
	}
	for _, j := range o.jobs {
		w = append(w, workload{name: "Job " + j.Name, pod: j.Spec.Template})
	}
	return w
}

// selects reports whether selector picks pods with these labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selected returns the workloads whose pods selector picks.
func (o objects) selected(selector map[string]string) []workload {
	var w []workload
	for _, wl := range o.workloads() {
		if selects(selector, wl.pod.Labels) {
			w = append(w, wl)
		}
	}
	return w
}

func containerPort(c corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// checkWorkloads checks what every pod of the deployment needs: a non-root,
// read-only, unprivileged container with requests and limits, and probes
// where it serves.
func checkWorkloads(t *testing.T, o objects) {
	t.Helper()
	for _, w := range o.workloads() {
		spec := w.pod.Spec
		if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: pod securityContext.runAsNonRoot is not true", w.name)
		}
		for _, c := range spec.Containers {
			name := w.name + " container " + c.Name
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("%s: no %s request", name, res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("%s: no %s limit", name, res)
				}
			}
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s: securityContext %+v, want readOnlyRootFilesystem, no privilege escalation, drop ALL", name, sc)
			}
			if w.serves && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
				t.Errorf("%s: readiness %v, liveness %v; want both probes", name, c.ReadinessProbe, c.LivenessProbe)
			}
		}
	}
}

// What a pod of the service needs in memory, measured by make bench
// (docs/benchmarks.md): an instance with no client, and a stream
// subscriber at most (each of an event of its own, on the cluster: 2,100
// subscribers took an instance to 250 MB of RSS).
const (
	idleServiceBytes = 32 << 20
	subscriberBytes  = 110 << 10
)

// checkMemory checks that the pod's memory limit holds its caps: the
// stream's subscribers, beside an idle instance and a fifth of the limit
// for its holds and lists; and that GOMEMLIMIT is set below the limit, so
// that Go collects harder near it rather than be OOM-killed.
func checkMemory(t *testing.T, c corev1.Container, cfg bootstrap.Config) {
	t.Helper()
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		return // checkWorkloads tells
	}
	if need := idleServiceBytes + int64(cfg.StreamMaxSubscribers)*subscriberBytes; need > limit.Value()*4/5 {
		t.Errorf("RESERVATION_STREAM_MAX_SUBSCRIBERS %d needs about %d MiB, more than four fifths of the memory limit %s", cfg.StreamMaxSubscribers, need>>20, limit.String())
	}
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
	if i < 0 {
		t.Fatal("no GOMEMLIMIT in the service's environment")
	}
	soft, err := resource.ParseQuantity(strings.TrimSuffix(c.Env[i].Value, "B")) // Go's MiB is Kubernetes's Mi
	if err != nil || soft.Cmp(limit) >= 0 || soft.Value() < limit.Value()*3/4 {
		t.Errorf("GOMEMLIMIT %q, want three quarters of the memory limit %s or more, and below it", c.Env[i].Value, limit.String())
	}
}

// checkService checks the service's Deployment and the objects around it,
// and returns the configuration its pods run with.
func checkService(t *testing.T, o objects) bootstrap.Config {
	t.Helper()
	d := one(t, "Deployments", o.deployments)
	pod := d.Spec.Template
	c := one(t, "containers in the service's pod", pod.Spec.Containers)

	// The image has a registry host and a tag, the ones `kustomize edit set
	// image` replaces (README, Deployment): not a bare name, which no
	// registry has, nor :latest, which IfNotPresent would not pull again.
	host, repo, named := strings.Cut(c.Image, "/")
	_, tag, _ := strings.Cut(repo[strings.LastIndex(repo, "/")+1:], ":")
	if !named || !strings.ContainsAny(host, ".:") || tag == "" || tag == "latest" {
		t.Errorf("service image %q, want REGISTRY/reservation:TAG with a registry host and a tag other than latest", c.Image)
	}

	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe %+v, want GET %s", p.name, p.probe, p.path)
			continue
		}
		if _, ok := containerPort(c, p.probe.HTTPGet.Port.String()); !ok {
			t.Errorf("%s probe port %s is no port of the container", p.name, p.probe.HTTPGet.Port.String())
		}
	}

	// The configuration comes from the one ConfigMap, which the service
	// accepts.
	from := one(t, "envFrom sources", c.EnvFrom)
	cm := one(t, "ConfigMaps", o.configMaps)
	if from.ConfigMapRef == nil || from.ConfigMapRef.Name != cm.Name {
		t.Fatalf("envFrom %+v, want the ConfigMap %s", from, cm.Name)
	}
	cfg := loadConfig(t, cm.Data)
	listen, _ := containerPort(c, "http")
	if port(t, cfg.HTTP.Addr) != strconv.Itoa(int(listen)) {
		t.Errorf("the service listens on %s, the container port http is %d", cfg.HTTP.Addr, listen)
	}
	for k, v := range map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(int(listen)),
		"prometheus.io/path":   "/metrics",
	} {
		if pod.Annotations[k] != v {
			t.Errorf("pod annotation %s = %q, want %q", k, pod.Annotations[k], v)
		}
	}

	checkMemory(t, c, cfg)

	// Graceful termination: endpoints drain during preStop, then the
	// service has its whole shutdown timeout before SIGKILL.
	var drain time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		drain = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if drain == 0 {
		t.Error("no preStop sleep: the pod would stop before it leaves the endpoints")
	}
	var grace time.Duration
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= drain+cfg.HTTP.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %v, want more than preStop %v + shutdown timeout %v", grace, drain, cfg.HTTP.ShutdownTimeout)
	}

	svc := one(t, "Services selecting the service's pods", slices.DeleteFunc(slices.Clone(o.services), func(s corev1.Service) bool {
		return !selects(s.Spec.Selector, pod.Labels)
	}))
	if w := o.selected(svc.Spec.Selector); len(w) != 1 {
		t.Errorf("Service %s selects %d workloads, want only the service", svc.Name, len(w))
	}
	for _, p := range svc.Spec.Ports {
		if _, ok := containerPort(c, p.TargetPort.String()); !ok {
			t.Errorf("Service %s targets port %s, which the container does not name", svc.Name, p.TargetPort.String())
		}
	}

	hpa := one(t, "HorizontalPodAutoscalers", o.hpas)
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA scales %s %s, want Deployment %s", ref.Kind, ref.Name, d.Name)
	}
	if n := hpa.Spec.MinReplicas; n == nil || *n < 2 {
		t.Error("HPA minReplicas is under 2: no pod could be drained within the PDB")
	}
	cpu := slices.IndexFunc(hpa.Spec.Metrics, func(m autoscalingv2.MetricSpec) bool {
		return m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil
	})
	if cpu < 0 {
		t.Errorf("HPA metrics %+v, want CPU utilisation", hpa.Spec.Metrics)
	}
	if d.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas %d, which every apply would reset under the HPA", *d.Spec.Replicas)
	}

	pdbs := slices.DeleteFunc(slices.Clone(o.pdbs), func(p policyv1.PodDisruptionBudget) bool {
		return p.Spec.Selector == nil || !selects(p.Spec.Selector.MatchLabels, pod.Labels)
	})
	if pdb := one(t, "PodDisruptionBudgets of the service", pdbs); pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Errorf("PDB %s sets no budget", pdb.Name)
	}
	return cfg
}

// redisArgs returns the command line of the one container of the Redis
// pods that Service svc selects.
func redisArgs(t *testing.T, o objects, svc string) []string {
	t.Helper()
	i := slices.IndexFunc(o.services, func(s corev1.Service) bool { return s.Name == svc })
	if i < 0 {
		t.Fatalf("no Service %s", svc)
	}
	w := one(t, "workloads behind Service "+svc, o.selected(o.services[i].Spec.Selector))
	c := one(t, "containers in "+w.name, w.pod.Spec.Containers)
	if _, ok := containerPort(c, "redis"); !ok {
		t.Errorf("%s has no port named redis", w.name)
	}
	return append(slices.Clone(c.Command), c.Args...)
}

// wantFsyncAlways checks that Redis writes its AOF to disk before it
// answers: with everysec, a Redis crash can lose writes it confirmed
// (docs/deployment.md), and a cluster master that restarts so passes the
// loss on to its replicas.
func wantFsyncAlways(t *testing.T, args []string) {
	t.Helper()
	if got := flagValue(args, "--appendfsync"); got != "always" {
		t.Errorf("Redis runs with --appendfsync %q, want always (args %q)", got, args)
	}
}

func TestKustomizeBase(t *testing.T) {
	t.Parallel()
	o := render(t, "k8s/base")
	checkWorkloads(t, o)
	cfg := checkService(t, o)

	// The base runs one standalone Redis, the one the service is given.
	addr := one(t, "Redis addresses", cfg.Redis.Addrs)
	host, _, _ := strings.Cut(addr, ":")
	args := redisArgs(t, o, host)
	if flagValue(args, "--appendonly") != "yes" || flagValue(args, "--cluster-enabled") == "yes" {
		t.Errorf("Redis runs %q, want a standalone Redis with AOF", args)
	}
	wantFsyncAlways(t, args)
	// A standalone Redis has no replica: waiting for one would fail every
	// reservation.
	if cfg.Redis.ReplicaAcks != 0 {
		t.Errorf("RESERVATION_REDIS_REPLICA_ACKS %d, want 0 with a standalone Redis", cfg.Redis.ReplicaAcks)
	}
}

func TestKustomizeRedisClusterOverlay(t *testing.T) {
	t.Parallel()
	o := render(t, "k8s/overlays/redis-cluster")
	checkWorkloads(t, o)
	cfg := checkService(t, o)

	// The service is pointed at the pods of the cluster's StatefulSet
	// (<statefulset>-<n>.<headless service>), and at nothing else.
	sts := one(t, "StatefulSets", o.statefulSets)
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 9 {
		t.Fatalf("StatefulSet %s does not have 9 replicas (3 masters with 2 replicas each)", sts.Name)
	}
	nodes := map[string]bool{}
	for n := range int(*sts.Spec.Replicas) {
		nodes[fmt.Sprintf("%s-%d.%s", sts.Name, n, sts.Spec.ServiceName)] = true
	}
	if len(cfg.Redis.Addrs) < 2 {
		t.Errorf("RESERVATION_REDIS_ADDRS %q, want several seed nodes", cfg.Redis.Addrs)
	}
	for _, addr := range cfg.Redis.Addrs {
		if host, _, _ := strings.Cut(addr, ":"); !nodes[host] {
			t.Errorf("RESERVATION_REDIS_ADDRS has %s, which is no node of StatefulSet %s", addr, sts.Name)
		}
	}
	i := slices.IndexFunc(o.services, func(s corev1.Service) bool { return s.Name == sts.Spec.ServiceName })
	if i < 0 || o.services[i].Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the StatefulSet's Service %s is missing or not headless", sts.Spec.ServiceName)
	}
	args := redisArgs(t, o, sts.Spec.ServiceName)
	if flagValue(args, "--cluster-enabled") != "yes" || flagValue(args, "--appendonly") != "yes" {
		t.Errorf("Redis Cluster nodes run %q, want cluster mode with AOF", args)
	}
	wantFsyncAlways(t, args)

	job := one(t, "Jobs", o.jobs)
	script := strings.Join(one(t, "containers in the Job", job.Spec.Template.Spec.Containers).Command, " ")
	if !strings.Contains(script, "--cluster create") || !strings.Contains(script, "--cluster-replicas 2") {
		t.Errorf("Job %s does not form the cluster with two replicas per master:\n%s", job.Name, script)
	}

	// A confirmed reservation is on every replica of its master, so a
	// failover cannot lose it whichever replica it promotes (Redis's
	// choice rests on gossiped offsets, which may be stale: with one of
	// two, tests/faults once saw the promoted replica lack a whole event).
	perMaster, err := strconv.Atoi(flagValue(strings.Fields(script), "--cluster-replicas"))
	if err != nil {
		t.Fatalf("Job %s: --cluster-replicas: %v", job.Name, err)
	}
	if cfg.Redis.ReplicaAcks != perMaster {
		t.Errorf("%d replicas per master, RESERVATION_REDIS_REPLICA_ACKS %d: want every replica, or a failover may promote one that lacks a confirmed reservation", perMaster, cfg.Redis.ReplicaAcks)
	}
}
