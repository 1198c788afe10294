package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ClusterPort is the AMQP port of the first node of scripts/rabbitmq.sh's
// cluster; the other two listen on the next ports.
const ClusterPort = 5701

// Cluster is the three-node RabbitMQ cluster of `scripts/rabbitmq.sh
// cluster` on 127.0.0.1. Nodes are numbered 1 to 3.
type Cluster struct {
	URLs []string // each node's AMQP URL, node 1 first
}

// ClusterAnswers reports whether all three nodes' AMQP ports answer.
func ClusterAnswers() bool {
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ClusterPort+i), time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
	}
	return true
}

// StartCluster starts the cluster unless the script's cluster runs, and
// returns it with whether this call started it (then Stop ends it).
func StartCluster() (Cluster, bool, error) {
	var c Cluster
	out, err := clusterScript(5*time.Minute, "start")
	if err != nil {
		return c, false, fmt.Errorf("start the cluster: %w\n%s", err, out)
	}
	started := strings.Contains(out, "started")
	urls, err := clusterScript(time.Minute, "urls")
	if err != nil {
		return c, started, fmt.Errorf("cluster urls: %w\n%s", err, urls)
	}
	c.URLs = strings.Fields(urls)
	if len(c.URLs) != 3 {
		return c, started, fmt.Errorf("cluster urls printed %q, not three URLs", urls)
	}
	return c, started, nil
}

// Stop stops the cluster's three nodes.
func (c Cluster) Stop() error {
	if out, err := clusterScript(3*time.Minute, "stop"); err != nil {
		return fmt.Errorf("stop the cluster: %w\n%s", err, out)
	}
	return nil
}

// Kill sends SIGKILL to node n's Erlang VM and returns once it is gone.
func (c Cluster) Kill(n int) error {
	if out, err := clusterScript(time.Minute, "kill", fmt.Sprint(n)); err != nil {
		return fmt.Errorf("kill node %d: %w\n%s", n, err, out)
	}
	return nil
}

// Revive starts node n again and returns once it has rejoined the cluster.
func (c Cluster) Revive(n int) error {
	if out, err := clusterScript(3*time.Minute, "revive", fmt.Sprint(n)); err != nil {
		return fmt.Errorf("revive node %d: %w\n%s", n, err, out)
	}
	return nil
}

// Ctl runs rabbitmqctl ARGS against node n.
func (c Cluster) Ctl(n int, args ...string) (string, error) {
	out, err := clusterScript(time.Minute, append([]string{"ctl", fmt.Sprint(n)}, args...)...)
	if err != nil {
		return out, fmt.Errorf("rabbitmqctl %v on node %d: %w: %s", args, n, err, out)
	}
	return out, nil
}

// NodeName is node n's Erlang node name, as queues report their members.
func (c Cluster) NodeName(n int) string {
	return fmt.Sprintf("rabbit-cluster-%d@localhost", ClusterPort+n-1)
}

// QueueReplicas is where a quorum queue lives: its type, leader, members
// and the members that are online.
type QueueReplicas struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Leader  string   `json:"leader"`
	Members []string `json:"members"`
	Online  []string `json:"online"`
}

// Queues asks node n for every queue's type, leader, members and online
// members, by name.
func (c Cluster) Queues(n int) (map[string]QueueReplicas, error) {
	out, err := c.Ctl(n, "-q", "list_queues", "--formatter", "json", "name", "type", "leader", "members", "online")
	if err != nil {
		return nil, err
	}
	var qs []QueueReplicas
	if err := json.Unmarshal([]byte(out), &qs); err != nil {
		return nil, fmt.Errorf("list_queues on node %d: %w: %s", n, err, out)
	}
	m := make(map[string]QueueReplicas, len(qs))
	for _, q := range qs {
		m[q.Name] = q
	}
	return m, nil
}

func clusterScript(timeout time.Duration, args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "rabbitmq.sh"), append([]string{"cluster"}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("RABBITMQ_CLUSTER_PORT=%d", ClusterPort))
	out, err := cmd.CombinedOutput()
	return string(out), err
}
