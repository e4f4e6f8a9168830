package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
)

// server is a child HTTP server: the service or the ceiling server.
type server struct {
	name   string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
}

// startTimeout bounds a server's start, stopTimeout its graceful stop.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 20 * time.Second
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// standaloneRun starts a throwaway standalone Redis and a folder for the
// logs of the run name; done stops Redis and removes the folder, unless
// LOADBENCH_KEEP is set: then it stays, to read the instances' logs after
// a failure.
func standaloneRun(name string) (redisAddr, dir string, done func(), err error) {
	return redisRun(name, redistest.StartStandalone)
}

// redisRun is standaloneRun with the Redis that start starts: its
// addresses, comma-separated.
func redisRun(name string, start func() (*redistest.Servers, error)) (redisAddrs, dir string, done func(), err error) {
	fmt.Printf("== %s: starting Redis\n", name)
	redis, err := start()
	if err != nil {
		return "", "", nil, fmt.Errorf("start Redis: %w", err)
	}
	if dir, err = os.MkdirTemp("", "loadbench-"+name+"-"); err != nil {
		redis.Stop()
		return "", "", nil, err
	}
	return strings.Join(redis.Addrs(), ","), dir, func() {
		redis.Stop()
		if os.Getenv("LOADBENCH_KEEP") == "" {
			os.RemoveAll(dir)
		}
	}, nil
}

// startServer starts bin in dir (so it reads no .env of the caller's), its
// output in dir/name.log, and waits until GET readyPath answers 200.
func startServer(ctx context.Context, name, dir, addr, readyPath string, env []string, bin string, args ...string) (*server, error) {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, addr: addr, cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, readyPath); err != nil {
		s.cmd.Process.Kill()
		<-s.exited
		log, _ := os.ReadFile(out.Name())
		return nil, fmt.Errorf("%s: %w\n%s", name, err, log)
	}
	return s, nil
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

func (s *server) waitReady(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited: %s", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// stop asks the server to stop and kills it if it does not in time. A
// server that died on its own is an error: the run's figures are suspect.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return fmt.Errorf("%s exited during the run: %s", s.name, s.cmd.ProcessState)
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not stop within %v", s.name, stopTimeout)
	}
}

// createEvents creates n events of body (createBody: 10,000 seats in one
// row) and returns their ids.
func (s *server) createEvents(ctx context.Context, n int, body []byte) ([]string, error) {
	api := newAPI(s.url(""), http.DefaultClient)
	ids := make([]string, n)
	for i := range ids {
		created, err := api.CreateEventWithBodyWithResponse(ctx, nil, "application/json", bytes.NewReader(body))
		switch {
		case err != nil:
			return nil, fmt.Errorf("create event: %w", err)
		case created.JSON201 == nil || created.JSON201.ID == "":
			return nil, fmt.Errorf("create event: %w", unexpected(created))
		}
		ids[i] = created.JSON201.ID
	}
	return ids, nil
}

// deleteEvents deletes the events ids, and with them their holds, once a
// run has its figures. A failure is only printed: the figures stand, and
// the holds left expire in the background.
func (s *server) deleteEvents(ctx context.Context, ids []string) {
	api := newAPI(s.url(""), http.DefaultClient)
	for _, id := range ids {
		resp, err := api.DeleteEventWithResponse(ctx, id)
		if err == nil && resp.StatusCode() != http.StatusNoContent {
			err = unexpected(resp)
		}
		if err != nil {
			fmt.Printf("   delete event %s: %v\n", id, err)
			return
		}
	}
}

// createBody creates an event of the largest size, in one row; rowsBody
// one in rows of 50 seats, as a hall has them.
var (
	createBody = []byte(`{"name":"Load benchmark","totalSeats":10000}`)
	rowsBody   = []byte(`{"name":"Load benchmark","totalSeats":10000,"seatsPerRow":50}`)
)

// eventSeats is the size of every event of the benchmark.
const eventSeats = 10000
