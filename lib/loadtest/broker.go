package loadtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Broker is a RabbitMQ node on 127.0.0.1 controlled with scripts/rabbitmq.sh.
type Broker struct {
	Port int
	URL  string
}

// SharedBroker is the test node on 127.0.0.1:5672 (scripts/rabbitmq.sh start).
var SharedBroker = Broker{Port: 5672, URL: DefaultAMQPURL}

// StartBroker starts a node of its own on port, unless one answers there, and
// returns it with whether this call started it (then Stop ends it).
func StartBroker(port int) (Broker, bool, error) {
	b := Broker{Port: port, URL: fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port)}
	out, err := b.script(3*time.Minute, "start")
	if err != nil {
		return b, false, fmt.Errorf("start a broker on port %d: %w\n%s", port, err, out)
	}
	return b, strings.Contains(out, "started"), nil
}

// Stop stops the node scripts/rabbitmq.sh started on b.Port.
func (b Broker) Stop() error {
	if out, err := b.script(time.Minute, "stop"); err != nil {
		return fmt.Errorf("stop the broker on port %d: %w\n%s", b.Port, err, out)
	}
	return nil
}

// Ctl runs rabbitmqctl ARGS on the node.
func (b Broker) Ctl(args ...string) (string, error) {
	out, err := b.script(time.Minute, append([]string{"ctl"}, args...)...)
	if err != nil {
		return out, fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, out)
	}
	return out, nil
}

// CloseConnection closes, on the broker's side, the client connection whose
// connection_name is name, waiting up to timeout for it to appear.
func (b Broker) CloseConnection(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := b.Ctl("-q", "list_connections", "--no-table-headers", "pid", "client_properties")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if pid, props, ok := strings.Cut(line, "\t"); ok && strings.Contains(props, `{"connection_name","`+name+`"}`) {
				_, err := b.Ctl("close_connection", pid, "closed by a test")
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no connection named %q within %v", name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b Broker) script(timeout time.Duration, args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "rabbitmq.sh"), args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("RABBITMQ_PORT=%d", b.Port))
	out, err := cmd.CombinedOutput()
	return string(out), err
}
