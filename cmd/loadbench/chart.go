package main

import (
	"fmt"
	"math"
	"strings"
)

// The chart: hold throughput, and hold latency, against connections, for
// each Redis set-up. Each point is the median of the rounds, its whisker
// their range. The stream's chart, beside it: lag and memory against
// subscribers, one run each.

const (
	panelW, panelH = 460, 340
	marginL        = 64
	marginR        = 16
	marginT        = 56
	marginB        = 44
)

// line is one series of the chart.
type line struct {
	name   string
	color  string
	dashed bool
	points []spread // one per entry of the panel's axis; ok false where it did not run
	ok     []bool
}

// axis is the x axis of a panel: its name and its values.
type axis struct {
	name   string
	values []int
}

var connections = axis{"connections", curve}

var topologyColors = map[string]string{"standalone": "#1f77b4", "cluster": "#d62728"}

func (r report) chart() []byte {
	var throughput, latency []line
	for _, topo := range []string{"standalone", "cluster"} {
		color := topologyColors[topo]
		throughput = append(throughput,
			r.line("service, "+topo, color, false, topo, "hold", rate),
			r.line("ceiling, "+topo, color, true, topo, "evalsha", rate))
		latency = append(latency,
			r.line("p50, "+topo, color, false, topo, "hold", p50),
			r.line("p99, "+topo, color, true, topo, "hold", p99))
	}
	var b strings.Builder
	svgStart(&b, 2)
	panel(&b, 0, "POST /seats/hold: requests per second", "req/s", connections, throughput)
	panel(&b, panelW, "POST /seats/hold: latency", "ms", connections, latency)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// svgStart begins a chart of panels side by side.
func svgStart(b *strings.Builder, panels int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", panels*panelW, panelH)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
}

// streamChart is the stream's chart (stream.go): lag, and the instance's
// memory, against subscribers; nil when it did not run.
func (r report) streamChart() []byte {
	if len(r.streams) == 0 {
		return nil
	}
	x := axis{name: "subscribers"}
	p50, p99 := line{name: "p50", color: topologyColors["standalone"]}, line{name: "p99", color: topologyColors["standalone"], dashed: true}
	rss := line{name: "peak RSS (VmHWM)", color: topologyColors["standalone"]}
	const targetColor = "#999"
	lagGoal := line{name: fmt.Sprintf("goal of p99 at %s", thousands(streamTargetSubscribers)), color: targetColor, dashed: true}
	rssGoal := line{name: fmt.Sprintf("goal at %s", thousands(streamTargetSubscribers)), color: targetColor, dashed: true}
	add := func(l *line, v float64) { l.points, l.ok = append(l.points, spread{v, v, v}), append(l.ok, true) }
	for _, run := range r.streams {
		x.values = append(x.values, run.subscribers)
		add(&p50, run.lags.percentile(0.5))
		add(&p99, run.p99())
		add(&rss, run.rssMB())
		add(&lagGoal, streamMaxLagMs)
		add(&rssGoal, streamMaxRSSMB)
	}
	var b strings.Builder
	svgStart(&b, 2)
	panel(&b, 0, "GET /events/{id}/stream: lag", "ms", x, []line{p50, p99, lagGoal})
	panel(&b, panelW, "the instance's peak memory", "MB", x, []line{rss, rssGoal})
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func (r report) line(name, color string, dashed bool, topo, id string, f func(wrkResult) float64) line {
	l := line{name: name, color: color, dashed: dashed}
	for _, c := range curve {
		s, ok := r.figure(topo, id, c, f)
		l.points, l.ok = append(l.points, s), append(l.ok, ok)
	}
	return l
}

func panel(b *strings.Builder, x0 int, title, unit string, x axis, lines []line) {
	top := 0.0
	for _, l := range lines {
		for i, p := range l.points {
			if l.ok[i] {
				top = math.Max(top, p.max)
			}
		}
	}
	top, step := niceScale(top)
	plotW, plotH := float64(panelW-marginL-marginR), float64(panelH-marginT-marginB)
	xAt := func(i int) float64 { return float64(x0+marginL) + plotW*(float64(i)+0.5)/float64(len(x.values)) }
	yAt := func(v float64) float64 { return float64(marginT) + plotH*(1-v/top) }

	fmt.Fprintf(b, `<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`+"\n", x0+marginL, title)
	for v := 0.0; v <= top+step/2; v += step {
		y := yAt(v)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, x0+marginL, x0+panelW-marginR, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0+marginL-6, y+4, tick(v))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>`+"\n",
		x0+14, marginT+int(plotH/2), x0+14, marginT+int(plotH/2), unit)
	for i, c := range x.values {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", xAt(i), panelH-marginB+18, thousands(c))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x0+marginL+int(plotW/2), panelH-8, x.name)
	for k, l := range lines {
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts []string
		for i, p := range l.points {
			if !l.ok[i] {
				continue
			}
			// Series side by side, so that whiskers do not hide each other.
			x := xAt(i) + 5*(float64(k)-float64(len(lines)-1)/2)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, yAt(p.med)))
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`, x, x, yAt(p.min), yAt(p.max), l.color)
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x, yAt(p.med), l.color)
		}
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), l.color, dash)
		}
		lx, ly := x0+marginL+(k%2)*190, 32+(k/2)*14
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, lx, lx+24, ly-4, ly-4, l.color, dash)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", lx+30, ly, l.name)
	}
}

// niceScale rounds top up to a round number of 1, 2 or 5 steps of a power of
// ten, and returns it with the step for five or so grid lines.
func niceScale(top float64) (float64, float64) {
	if top <= 0 {
		return 1, 0.2
	}
	raw := top / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow * 10
	for _, m := range []float64{1, 2, 5} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	return math.Ceil(top/step) * step, step
}

func tick(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%gk", v/1000)
	}
	return fmt.Sprintf("%g", v)
}
