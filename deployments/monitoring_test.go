package deployments_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"sigs.k8s.io/yaml"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/bootstrap"
)

const (
	alertsFile    = "prometheus/alerts.yaml"
	dashboardFile = "grafana/reservation.json"
)

// promql is Prometheus's own PromQL parser, with its default functions.
var promql = parser.NewParser(parser.Options{})

// parseRules parses and validates a rules file as Prometheus does when it
// loads one (promtool check rules runs the same code): YAML, PromQL and
// the templates of the annotations.
func parseRules(t *testing.T, content []byte) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.Parse(content, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return groups
}

// family is what the service exports of one metric family.
type family struct {
	name   string
	labels map[string][]string // label name: the values seen
}

// series are the names a query may select: a histogram's family is
// selected as its _bucket, _sum and _count series.
type series map[string]family

// exported starts the whole service on Redis (bootstrap.Module, as
// cmd/reservation does), exercises every route the rules and the dashboard
// name, and returns what its /metrics then exports: the real registry,
// with its request, store and Redis memory series present.
func exported(t *testing.T) series {
	t.Helper()
	env := []string{"RESERVATION_HTTP_ADDR=127.0.0.1:0", "RESERVATION_REDIS_ADDRS=" + redistest.Standalone(t)}
	cfg, err := bootstrap.LoadConfig(bootstrap.Sources{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httpapi.Server
	app := fxtest.New(t, bootstrap.Module(cfg), fx.Replace(zap.NewNop()), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr().String()

	var ev struct{ ID string }
	call(t, http.MethodPost, base+"/events/create", `{"name": "Monitoring", "totalSeats": 10}`, http.StatusCreated, &ev)
	seat := func(n int) string { return fmt.Sprintf(`"%s.%d"`, ev.ID, n) }
	call(t, http.MethodPost, base+"/seats/hold", `{"id": `+seat(1)+`, "UUID": "u"}`, http.StatusOK, nil)
	call(t, http.MethodPost, base+"/events/"+ev.ID+"/hold", `{"UUID": "u", "ids": [`+seat(2)+`]}`, http.StatusOK, nil)
	call(t, http.MethodPost, base+"/events/"+ev.ID+"/reserve", `{"UUID": "u", "ids": [`+seat(2)+`]}`, http.StatusOK, nil)
	for path, status := range map[string]int{"/readyz": 200, "/healthz": 200, "/metrics": 200, "/no/such/path": 404} {
		call(t, http.MethodGet, base+path, "", status, nil)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := text.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := series{}
	for name, f := range fams {
		fam := family{name: name, labels: map[string][]string{}}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(fam.labels[l.GetName()], l.GetValue()) {
					fam.labels[l.GetName()] = append(fam.labels[l.GetName()], l.GetValue())
				}
			}
		}
		names := []string{name}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names = []string{name + "_bucket", name + "_sum", name + "_count"}
		case dto.MetricType_SUMMARY:
			names = append(names, name+"_sum", name+"_count")
		}
		for _, n := range names {
			out[n] = fam
		}
	}
	return out
}

func call(t *testing.T, method, url, body string, want int, into any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s (%v), want %d", method, url, resp.StatusCode, b, err, want)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
}

// targetLabels are the labels Prometheus adds to every series it scrapes;
// the queries select the service's target by them.
var targetLabels = []string{"job", "instance"}

// valueChecked are the labels whose values a query's matchers (=, !=, =~
// and !~, each alternative of a regular expression) must name: the route
// templates, store operations and results that the service exports. A
// typo there would select nothing, or in !~ leave in what it meant to
// leave out, silently.
var valueChecked = []string{"route", "op", "result"}

// checkQuery fails unless expr parses and every series it selects is one
// the service exports, by labels it has. It returns the families selected.
func checkQuery(t *testing.T, where, expr string, exp series) []string {
	t.Helper()
	node, err := promql.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return nil
	}
	var fams []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			checkSelector(t, where, vs.Name, vs.LabelMatchers, exp)
			fams = append(fams, exp[vs.Name].name)
		}
		return nil
	})
	return fams
}

func checkSelector(t *testing.T, where, name string, matchers []*labels.Matcher, exp series) {
	t.Helper()
	fam, ok := exp[name]
	if !ok {
		t.Errorf("%s: %s is no metric the service exports", where, name)
		return
	}
	for _, m := range matchers {
		if m.Name == model.MetricNameLabel || slices.Contains(targetLabels, m.Name) {
			continue
		}
		values, ok := fam.labels[m.Name]
		if !ok {
			t.Errorf("%s: %s has no label %s", where, name, m.Name)
			continue
		}
		if !slices.Contains(valueChecked, m.Name) {
			continue
		}
		want := []string{m.Value}
		if m.Type == labels.MatchRegexp || m.Type == labels.MatchNotRegexp {
			want = strings.Split(m.Value, "|")
		}
		for _, v := range want {
			if !slices.Contains(values, v) {
				t.Errorf("%s: %s{%s} names %s=%q, which the service never exports (it has %q)", where, name, m, m.Name, v, values)
			}
		}
	}
}

// TestMonitoringNamesWhatTheServiceExports checks the alert rules and the
// dashboard against one running service.
func TestMonitoringNamesWhatTheServiceExports(t *testing.T) {
	t.Parallel()
	exp := exported(t)
	t.Run("alerts", func(t *testing.T) { checkAlertRules(t, exp) })
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, exp) })
}

// checkAlertRules parses the shipped rules with Prometheus's rule parser
// and checks every metric they select against the service's.
func checkAlertRules(t *testing.T, exp series) {
	content, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	groups := parseRules(t, content)

	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkQuery(t, alertsFile+" "+r.Alert, r.Expr, exp)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want a severity label, a summary and a description", r.Alert)
			}
		}
	}
	// What the README's "Dashboard and alerts" describes.
	for _, want := range []string{
		"ReservationHighErrorRatio", "ReservationStoreUnavailable", "ReservationSlowHolds",
		"ReservationNotReady", "ReservationRedisMemoryHigh", "ReservationRedisMemoryUnread", "ReservationStoreFull",
	} {
		if !slices.Contains(alerts, want) {
			t.Errorf("%s has no alert %s (it has %v)", alertsFile, want, alerts)
		}
	}
}

// TestPrometheusRuleIsTheAlertRules: the k8s base's PrometheusRule carries
// the groups of alerts.yaml, parsed by the same parser, so the two cannot
// drift; and its PodMonitor scrapes the service's pods under the job the
// rules select.
func TestPrometheusRuleIsTheAlertRules(t *testing.T) {
	t.Parallel()
	content, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	want := parseRules(t, content)
	for _, dir := range []string{"k8s/base", "k8s/overlays/redis-cluster"} {
		o := render(t, dir)
		rule := one(t, "PrometheusRules in "+dir, o.prometheusRules)
		spec, err := yaml.Marshal(rule.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseRules(t, spec); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: PrometheusRule %s's groups differ from %s (copy them over): %s", dir, rule.Name, alertsFile, firstDifference(got.Groups, want.Groups))
		}

		pm := one(t, "PodMonitors in "+dir, o.podMonitors)
		d := one(t, "Deployments in "+dir, o.deployments)
		pod := d.Spec.Template
		if !selects(pm.Spec.Selector.MatchLabels, pod.Labels) || len(o.selected(pm.Spec.Selector.MatchLabels)) != 1 {
			t.Errorf("%s: PodMonitor %s selects %v, want the service's pods alone", dir, pm.Name, pm.Spec.Selector.MatchLabels)
		}
		ep := one(t, "endpoints of PodMonitor "+pm.Name, pm.Spec.PodMetricsEndpoints)
		c := one(t, "containers in the service's pod", pod.Spec.Containers)
		if _, ok := containerPort(c, ptrValue(ep.Port)); !ok || ep.Path != "/metrics" {
			t.Errorf("%s: PodMonitor scrapes port %q path %q, want a port of the container and /metrics", dir, ptrValue(ep.Port), ep.Path)
		}
		job := pod.Labels[pm.Spec.JobLabel]
		for _, g := range want.Groups {
			for _, r := range g.Rules {
				if !strings.Contains(r.Expr, `job="`+job+`"`) {
					t.Errorf("%s: alert %s does not select job=%q, the PodMonitor's job (the pods' %s)", dir, r.Alert, job, pm.Spec.JobLabel)
				}
			}
		}
	}
}

// firstDifference names the first rule (or group) where got and want
// differ, with both versions.
func firstDifference(got, want []rulefmt.RuleGroup) string {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) {
			return fmt.Sprintf("%d groups, want %d", len(got), len(want))
		}
		g, w := got[i], want[i]
		for j := range max(len(g.Rules), len(w.Rules)) {
			if j >= len(g.Rules) || j >= len(w.Rules) {
				return fmt.Sprintf("group %s has %d rules, want %d", g.Name, len(g.Rules), len(w.Rules))
			}
			if !reflect.DeepEqual(g.Rules[j], w.Rules[j]) {
				return fmt.Sprintf("group %s rule %d:\n got %+v\nwant %+v", g.Name, j, g.Rules[j], w.Rules[j])
			}
		}
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("group:\n got %+v\nwant %+v", g, w)
		}
	}
	return "none"
}

func ptrValue(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// dashboard is what the test reads of a Grafana dashboard.
type dashboard struct {
	Title         string
	SchemaVersion int
	Templating    struct {
		List []struct {
			Name, Type string
			Query      any // a string, or the Prometheus variable editor's object
		}
	}
	Panels []panel
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *datasource
	Targets    []struct {
		Expr       string
		Datasource *datasource
	}
	Panels []panel // a collapsed row's
}

type datasource struct{ Type, UID string }

// grafanaVar is a variable in a query: $name, ${name} or ${name:format}.
var grafanaVar = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::\w+)?\}`)

// expand replaces the dashboard's variables as Grafana would: the
// built-in intervals by a duration, the others by a value.
func expand(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(strings.TrimLeft(v, "${"), "__") {
			return "5m"
		}
		return "value"
	})
}

// labelValuesQuery is a variable's label_values(selector, label).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)

// checkDashboard checks the Grafana dashboard: it picks its Prometheus by
// a variable, every query parses and selects what the service exports, and
// every metric of the service's own is on it.
func checkDashboard(t *testing.T, exp series) {
	content, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(content, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.SchemaVersion < 39 {
		t.Errorf("title %q, schemaVersion %d: want a title and the schema of Grafana 11 or later", d.Title, d.SchemaVersion)
	}

	const dsVar = "${datasource}"
	hasDS := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			hasDS = hasDS || v.Name == "datasource" && v.Query == "prometheus"
		case "query":
			q := v.Query
			if m, ok := q.(map[string]any); ok {
				q = m["query"]
			}
			s, _ := q.(string)
			m := labelValuesQuery.FindStringSubmatch(s)
			if m == nil {
				t.Errorf("variable %s: query %v, want label_values(selector, label)", v.Name, v.Query)
				continue
			}
			checkQuery(t, "variable "+v.Name, expand(m[1]), exp)
		}
	}
	if !hasDS {
		t.Errorf("no variable datasource of type prometheus: the dashboard would be bound to one Prometheus")
	}

	used := map[string]bool{}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != dsVar || len(p.Targets) == 0 {
				t.Errorf("panel %q: datasource %+v, %d queries; want %s and some", p.Title, p.Datasource, len(p.Targets), dsVar)
			}
			for _, q := range p.Targets {
				if q.Datasource == nil || q.Datasource.UID != dsVar {
					t.Errorf("panel %q: a query's datasource is %+v, want %s", p.Title, q.Datasource, dsVar)
				}
				for _, fam := range checkQuery(t, fmt.Sprintf("panel %q", p.Title), expand(q.Expr), exp) {
					used[fam] = true
				}
			}
		}
	}
	walk(d.Panels)

	// The service's own metrics, those of the client library (Go's
	// runtime, the process, the /metrics handler) aside, each have a
	// panel: a metric added later gets one too.
	for _, fam := range exp {
		if strings.HasPrefix(fam.name, "go_") || strings.HasPrefix(fam.name, "process_") || strings.HasPrefix(fam.name, "promhttp_") {
			continue
		}
		if !used[fam.name] {
			t.Errorf("%s is on no panel of %s", fam.name, dashboardFile)
		}
	}
}
