package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/tune"
)

// TestMain lets a test run this binary as the connector: with
// CONNECTOR_TEST_MAIN=1 it is main() itself.
func TestMain(m *testing.M) {
	if os.Getenv("CONNECTOR_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestRunReexecsWithSteadySysmon starts `connector run` and, once the worker
// dials the broker (a listener that never answers), reads the process's
// environment: the same PID must be running with tune.SteadySysmon in GODEBUG,
// under the name of its binary (ps and pgrep show it), not "exe". The
// re-exec happens while packages initialize (package runsteady), before
// kin-openapi's JSON Schema compiler: with GODEBUG=inittrace=1 the runtime
// reports that package's initialization once, by the re-executed process.
func TestRunReexecsWithSteadySysmon(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	env := []string{"CONNECTOR_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "GODEBUG=inittrace=1"}
	for k, v := range map[string]string{
		"ELASTICIO_FLOW_ID": "f", "ELASTICIO_EXEC_ID": "e", "ELASTICIO_STEP_ID": "s", "ELASTICIO_CONTAINER_ID": "c",
		"ELASTICIO_WORKSPACE_ID": "w", "ELASTICIO_USER_ID": "u", "ELASTICIO_COMP_ID": "k", "ELASTICIO_FUNCTION": "fetchPatient",
		"ELASTICIO_API_URI": "http://127.0.0.1:9", "ELASTICIO_API_USERNAME": "user", "ELASTICIO_API_KEY": "key",
		"ELASTICIO_AMQP_URI": "amqp://guest:guest@" + ln.Addr().String() + "/", "ELASTICIO_LISTEN_MESSAGES_ON": "in",
		"ELASTICIO_PUBLISH_MESSAGES_TO": "out", "ELASTICIO_DATA_ROUTING_KEY": "d", "ELASTICIO_ERROR_ROUTING_KEY": "e",
		"ELASTICIO_REBOUND_ROUTING_KEY": "r", "ELASTICIO_SNAPSHOT_ROUTING_KEY": "s",
		"ELASTICIO_MESSAGE_CRYPTO_IV": "0123456789abcdef", "ELASTICIO_MESSAGE_CRYPTO_PASSWORD": "secret",
	} {
		env = append(env, k+"="+v)
	}
	cmd := exec.Command(os.Args[0], "run")
	cmd.Env = env
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(20 * time.Second):
		t.Fatalf("the worker never dialled the broker; output:\n%s", out.String())
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	want := "GODEBUG=inittrace=1," + tune.SteadySysmon
	if !bytes.Contains(append([]byte{0}, environ...), []byte("\x00"+want+"\x00")) {
		t.Errorf("process %d environment lacks %q:\n%q", cmd.Process.Pid, want, environ)
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(os.Args[0])
	if len(name) > 15 { // the kernel keeps 15 bytes of a process's name
		name = name[:15]
	}
	if got := strings.TrimSpace(string(comm)); got != name {
		t.Errorf("process %d is named %q after the re-exec, want %q", cmd.Process.Pid, got, name)
	}
	if n := strings.Count(out.String(), "init github.com/santhosh-tekuri/jsonschema/v6 @"); n != 1 {
		t.Errorf("the JSON Schema compiler was initialized %d times, want once (after the re-exec); output:\n%s", n, out.String())
	}
}

// lockedBuffer is a bytes.Buffer that a process's output may fill while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
