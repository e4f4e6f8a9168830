package redistest

import "os"

// Servers are throwaway servers for a program that is not a test, such as
// the load benchmark (cmd/loadbench). They die with the process that started
// them, like a test's, and Stop removes their files.
type Servers struct {
	dir   string
	nodes []*node
}

// StartStandalone starts a standalone redis-server on a free loopback port.
func StartStandalone() (*Servers, error) {
	return startServers(func(dir string) ([]*node, error) {
		n, err := start(dir, false)
		if err != nil {
			return nil, err
		}
		return []*node{n}, nil
	})
}

// StartCluster starts a three-master Redis Cluster on free loopback ports,
// as Cluster does.
func StartCluster() (*Servers, error) { return startServers(startCluster) }

func startServers(startIn func(dir string) ([]*node, error)) (*Servers, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Servers{dir: dir}
	s.nodes, err = startIn(dir)
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Addrs are the servers' addresses: one, or the cluster's masters.
func (s *Servers) Addrs() []string { return addrs(s.nodes) }

// Stop kills the servers and removes their files.
func (s *Servers) Stop() {
	killAll(s.nodes)
	os.RemoveAll(s.dir)
}
