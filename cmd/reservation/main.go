// Command reservation serves the seat-reservation HTTP API.
//
// Configuration comes from defaults, an optional YAML file (--config), a
// .env file in the working directory and the environment, each overriding
// the one before; run with -h for the list of settings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/seatres/reservation/bootstrap"
)

// Exit codes besides the signal's own (0 on SIGTERM/SIGINT).
const (
	exitFailure = 1 // could not start or stop cleanly
	exitUsage   = 2 // bad flags or configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("reservation", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configFile := flags.String("config", "", "optional YAML configuration `file`")
	// The usage asked for with -h goes to stdout (for "| less"); after a
	// bad flag, to stderr below the error. Parse calls Usage in both
	// cases, so it is printed after Parse, where they differ.
	flags.Usage = func() {}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, flags)
			return 0
		}
		usage(stderr, flags)
		return exitUsage
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.Sources{File: *configFile, DotEnv: ".env", Environ: environ})
	if err != nil {
		fmt.Fprintf(stderr, "reservation: invalid configuration:\n%v\n", err)
		return exitUsage
	}

	app := fx.New(bootstrap.Module(cfg))
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		// The root cause names the failing adapter, such as an unreachable
		// Redis; the whole chain is in the debug log.
		fmt.Fprintf(stderr, "reservation: cannot start: %v\n", dig.RootCause(err))
		return exitFailure
	}
	// Wait returns on SIGTERM or SIGINT; Stop then lets in-flight requests
	// finish within the shutdown timeout before the store closes.
	signal := <-app.Wait()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer stopCancel()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintf(stderr, "reservation: unclean shutdown: %v\n", err)
		return exitFailure
	}
	return signal.ExitCode
}

// usage writes the flags and the table of settings to w.
func usage(w io.Writer, flags *flag.FlagSet) {
	fmt.Fprintln(w, "Usage: reservation [--config file]\n\nFlags:")
	flags.SetOutput(w)
	flags.PrintDefaults()
	fmt.Fprintln(w, "\nSettings (environment and .env override the file, which overrides the defaults):")
	bootstrap.PrintSettings(w)
}
