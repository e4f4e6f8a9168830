// Command loadbench is a benchmark tool, not part of the service: the HTTP
// load run of `make bench`. First the sale (sale.go): its own Go clients
// sell out events through the built service (bin/reservation) on a
// throwaway standalone Redis, and on the in-memory store. Then the stream
// (stream.go): subscribers of one event beside a sale of it. Then it starts
// throwaway Redis servers (standalone, then a three-master cluster) on
// loopback ports, the service with its default configuration against each,
// and the ceiling server (bin/benchceiling) beside it; it drives them with
// wrk, round after round. It prints a summary that it also writes, with
// charts, to docs/benchmarks.md, docs/benchmarks.svg and
// docs/benchmarks-stream.svg.
//
// A run fails (exit status 1, docs left alone) if any request gets a status
// other than the one expected or a socket error, a sale's check fails, or
// a subscriber of the stream misses a change (streamRun.failure).
//
// While working on one scenario, run it alone and write no docs, e.g.
//
//	bin/loadbench -sales 0 -single '' -subscribers '' -stream-followed 0 -topologies standalone -scenarios cartceil,cart -rounds 1 -out '' -chart ''
//
// the stream's subscribers beside a sale (stream.go), at 1,000 only:
//
//	bin/loadbench -sales 0 -single '' -topologies '' -subscribers 1000 -stream-followed 0 -out '' -chart ''
//
// the stream on the cluster while the instance follows 2,000 other events:
//
//	bin/loadbench -sales 0 -single '' -topologies '' -subscribers '' -stream-followed 2000 -out '' -chart ''
//
// and the single-seat hold with each layer of the guard of issue #10
// (guard.go), next to its ceiling and the plain hold at 64 connections:
//
//	bin/loadbench -sales 0 -single '' -subscribers '' -stream-followed 0 -topologies standalone -scenarios evalsha@64,hold@64,holdall,holdoff,holdkey,holdtoken,holdlimits -out '' -chart ''
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.service, "service", "bin/reservation", "the service's binary")
	flag.StringVar(&o.ceiling, "ceiling", "bin/benchceiling", "the ceiling server's binary")
	flag.IntVar(&o.rounds, "rounds", 5, "runs of every scenario, for the spread and a median that a burst of other load on the machine does not move")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "length of one wrk run")
	flag.StringVar(&o.topologies, "topologies", "standalone,cluster", "Redis set-ups to run the wrk scenarios against; empty for none")
	flag.StringVar(&o.scenarios, "scenarios", "", "wrk scenarios to run (comma-separated ids, see scenarios.go and guard.go, each for all its concurrencies or as id@conns for one, e.g. hold@64); empty for all")
	flag.IntVar(&o.buyerHolds, "buyer-holds", maxBuyerHolds, fmt.Sprintf("seats each buyer holds in the guarded holds (1 to %d): its token's signature is checked on its first hold, found in the cache on the others", maxBuyerHolds))
	flag.IntVar(&o.sales, "sales", 5, "rounds of the cart sale; 0 for none")
	flag.IntVar(&o.saleBuyers, "sale-clients", 500, "concurrent clients of the cart sale")
	flag.BoolVar(&o.saleMemory, "sale-memory", true, "run the cart sale on the in-memory store too")
	flag.StringVar(&o.single, "single", "100,500", "concurrent clients of the runs of the single-seat sale, one run each (comma-separated); empty for none")
	flag.DurationVar(&o.singleCap, "single-cap", 25*time.Second, "time after which a single-seat sale starts no new buyer")
	flag.StringVar(&o.subscribers, "subscribers", "100,1000,5000", "subscribers of the runs of the stream, one run each (comma-separated); empty for none")
	flag.IntVar(&o.streamRate, "stream-rate", 6000, "changes per second the sale beside the stream's subscribers makes, in all")
	flag.IntVar(&o.streamFollowed, "stream-followed", 2000, fmt.Sprintf("other events, one subscriber each, that the instance follows in the run of the stream on the cluster (%d subscribers of the sale's event, %d changes/s); 0 for no such run", followedSubscribers, followedRate))
	flag.DurationVar(&o.streamDuration, "stream-duration", 5*time.Second, "length of the sale beside the stream's subscribers")
	flag.StringVar(&o.streamEnv, "stream-env", "", "settings of the stream's instances, NAME=value, comma-separated (e.g. RESERVATION_ADMIN_ADDR=127.0.0.1:6060 to profile one)")
	flag.StringVar(&o.goBench, "gobench", "", "output of the Go benchmarks to include in the report")
	flag.StringVar(&o.goBenchCmd, "gobenchcmd", "", "the command that wrote -gobench, for the report")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "report to write; empty for none")
	flag.StringVar(&o.chart, "chart", "docs/benchmarks.svg", "chart to write (and the stream's beside it, NAME-stream.svg); empty for none")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

type options struct {
	service, ceiling string
	rounds           int
	duration         time.Duration
	topologies       string
	scenarios        string
	buyerHolds       int
	sales            int
	saleBuyers       int
	saleMemory       bool
	single           string
	singleCap        time.Duration
	subscribers      string
	streamRate       int
	streamFollowed   int
	streamDuration   time.Duration
	streamEnv        string
	goBench          string
	goBenchCmd       string
	out, chart       string
}

func run(ctx context.Context, o options) error {
	if o.rounds < 1 || o.duration < time.Second {
		return errors.New("need at least one round of at least 1s")
	}
	if o.buyerHolds < 1 || o.buyerHolds > maxBuyerHolds {
		return fmt.Errorf("-buyer-holds %d: want 1 to %d, the service's default hold limit", o.buyerHolds, maxBuyerHolds)
	}
	m, err := describeMachine()
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s\n", m)
	sales, err := runSales(ctx, o)
	if err != nil {
		return err
	}
	streams, followed, err := runStreams(ctx, o)
	if err != nil {
		return err
	}
	var results []result
	for _, name := range strings.Split(o.topologies, ",") {
		if name == "" {
			continue
		}
		t, ok := topologies[name]
		if !ok {
			return fmt.Errorf("unknown topology %q", name)
		}
		rs, err := runTopology(ctx, o, t)
		results = append(results, rs...)
		if err != nil {
			return err
		}
	}
	r := report{machine: m, opts: o, results: results, sales: sales, streams: streams, followed: followed}
	fmt.Print(r.summary())
	if failed := r.failures(); len(failed) > 0 {
		return fmt.Errorf("unexpected answers, docs left alone:\n%s", strings.Join(failed, "\n"))
	}
	if o.goBench != "" {
		b, err := os.ReadFile(o.goBench)
		if err != nil {
			return err
		}
		r.goBench = string(b)
	}
	if o.chart != "" {
		if err := os.WriteFile(o.chart, r.chart(), 0o644); err != nil {
			return err
		}
		if c := r.streamChart(); c != nil {
			if err := os.WriteFile(streamChartPath(o.chart), c, 0o644); err != nil {
				return err
			}
		}
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s\n", o.out)
	}
	return nil
}

// streamChartPath is where the stream's chart goes beside chart:
// docs/benchmarks-stream.svg beside docs/benchmarks.svg.
func streamChartPath(chart string) string {
	return strings.TrimSuffix(chart, ".svg") + "-stream.svg"
}
