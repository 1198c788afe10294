//go:build integration

package sailor_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fitbitplus/connector/lib/sailor/internal/testfuncs"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// testworker builds lib/sailor/internal/testworker once.
func testworker(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "sailor-testworker-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "testworker")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, "./internal/testworker").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build testworker: %v", buildErr)
	}
	return binPath
}

// proc is the worker as a separate process.
type proc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	code int
	end  time.Time
}

func (r *rig) startProcess(overrides map[string]string) *proc {
	r.t.Helper()
	// The race runtime sleeps 1 s at exit unless told not to.
	env := []string{"PATH=" + os.Getenv("PATH"), "TESTWORKER_HOSTNAME=" + r.name, "GORACE=atexit_sleep_ms=0 halt_on_error=1"}
	merged := map[string]string{}
	for k, v := range r.env {
		merged[k] = v
	}
	for k, v := range overrides {
		merged[k] = v
	}
	for k, v := range merged {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	p := &proc{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(testworker(r.t))
	p.cmd.Env = env
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	must(r.t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		p.end = time.Now()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	r.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if r.t.Failed() {
			r.t.Logf("process logs:\n%s", p.logs.String())
		}
	})
	return p
}

func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	p.waitFor(t, "Fully initialized and waiting for messages")
}

// waitFor waits (bounded) until the process has written line.
func (p *proc) waitFor(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if strings.Contains(p.logs.String(), line) {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("process exited %d before it wrote %q", p.code, line)
		default:
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process did not write %q", line)
}

func (p *proc) signal(t *testing.T) time.Time {
	t.Helper()
	must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	return time.Now()
}

// exit waits for the process and returns its code and how long after since it ended.
func (p *proc) exit(t *testing.T, since time.Time, timeout time.Duration) (int, time.Duration) {
	t.Helper()
	select {
	case <-p.done:
		return p.code, p.end.Sub(since)
	case <-time.After(timeout):
		t.Fatalf("process still running after %v", timeout)
		return 0, 0
	}
}

func expectExit(t *testing.T, p *proc, since time.Time, within time.Duration) {
	t.Helper()
	code, took := p.exit(t, since, within+5*time.Second)
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if took > within {
		t.Errorf("exited %v after SIGTERM, want within %v", took, within)
	}
}

func TestGracefulShutdown(t *testing.T) {
	slow := testfuncs.SlowDelay
	t.Run("G1_idle", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(nil)
		p.waitReady(t)
		expectExit(t, p, p.signal(t), time.Second)
	})
	t.Run("G2_during_startup", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(nil)
		// Before its handler is installed SIGTERM kills any Go process; a
		// fixed sleep lost that race on a loaded machine (exit -1).
		p.waitFor(t, "testworker: signals handled")
		expectExit(t, p, p.signal(t), time.Second)
	})
	t.Run("G3_message_after_sigterm_stays_queued", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(nil)
		p.waitReady(t)
		since := p.signal(t)
		r.waitConsumers(0) // the consumer is cancelled
		r.publishInput(defaultInput(), nil, 1)
		expectExit(t, p, since, 1500*time.Millisecond)
		if n := r.count(qInput); n != 1 {
			t.Errorf("%d messages in the queue, want 1", n)
		}
		if _, ok := r.next(qNext, 100*time.Millisecond); ok {
			t.Error("the message was processed")
		}
	})
	t.Run("G4_fast_message_then_sigterm", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(nil)
		p.waitReady(t)
		r.publishInput(defaultInput(), nil, 1)
		r.mustNext(qNext, wait)
		expectExit(t, p, p.signal(t), time.Second)
		if n := r.count(qInput); n != 0 {
			t.Errorf("%d messages left", n)
		}
	})
	for _, twice := range []bool{false, true} {
		name := "G5_sigterm_during_slow_message"
		if twice {
			name = "G6_sigterm_twice_during_slow_message"
		}
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			p := r.startProcess(map[string]string{"ELASTICIO_FUNCTION": "slow_echo"})
			p.waitReady(t)
			r.publishInput(defaultInput(), nil, 1)
			r.waitCount(qInput, 0) // in process
			since := p.signal(t)
			if twice {
				p.signal(t)
			}
			expectExit(t, p, since, slow+time.Second)
			r.mustNext(qNext, time.Second)
			if _, ok := r.next(qNext, 100*time.Millisecond); ok {
				t.Error("more than one answer")
			}
			if n := r.count(qInput); n != 0 {
				t.Errorf("%d messages left", n)
			}
		})
	}
	t.Run("G7_two_slow_messages_prefetch_1", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(map[string]string{"ELASTICIO_FUNCTION": "slow_echo"})
		p.waitReady(t)
		r.publishInput(defaultInput(), nil, 1)
		r.publishInput(defaultInput(), nil, 1)
		r.waitCount(qInput, 1) // the first in process
		expectExit(t, p, p.signal(t), slow+time.Second)
		r.mustNext(qNext, time.Second)
		if _, ok := r.next(qNext, 200*time.Millisecond); ok {
			t.Error("the second message was processed")
		}
		if n := r.count(qInput); n != 1 {
			t.Errorf("%d messages left, want 1", n)
		}
	})
	t.Run("G8_two_fast_messages", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(nil)
		p.waitReady(t)
		r.publishInput(defaultInput(), nil, 1)
		r.publishInput(defaultInput(), nil, 1)
		r.mustNext(qNext, wait)
		r.mustNext(qNext, wait)
		expectExit(t, p, p.signal(t), time.Second)
		if n := r.count(qInput); n != 0 {
			t.Errorf("%d messages left", n)
		}
	})
}

func TestProcessFatalExits(t *testing.T) {
	t.Run("missing_environment", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(map[string]string{"ELASTICIO_FLOW_ID": "", "ELASTICIO_AMQP_URI": "", "ELASTICIO_MESSAGE_CRYPTO_IV": ""})
		if code, _ := p.exit(t, time.Now(), wait); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		logs := p.logs.String()
		for _, name := range []string{"ELASTICIO_FLOW_ID is missing", "ELASTICIO_AMQP_URI is missing", "ELASTICIO_MESSAGE_CRYPTO_IV is missing"} {
			if !strings.Contains(logs, name) {
				t.Errorf("logs do not say %q", name)
			}
		}
	})
	t.Run("amqp_connect_failure", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(map[string]string{"ELASTICIO_AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"})
		if code, _ := p.exit(t, time.Now(), wait); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if _, ok := r.next(qErrors, 200*time.Millisecond); ok {
			t.Error("an error was published")
		}
	})
	t.Run("init_failure", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(map[string]string{"ELASTICIO_FUNCTION": "fails_to_init"})
		if code, _ := p.exit(t, time.Now(), wait); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if e, _ := r.decodeError(r.mustNext(qErrors, wait)); e["message"] != "OMG. I cannot init" {
			t.Errorf("error %v", e)
		}
	})
	t.Run("reconnect_impossible", func(t *testing.T) {
		r := newRig(t)
		p := r.startProcess(map[string]string{"ELASTICIO_AMQP_RECONNECT_ATTEMPTS": "2", "ELASTICIO_AMQP_RECONNECT_TIMEOUT": "50"})
		p.waitReady(t)
		err := r.top.DeleteInput()
		must(t, err)
		if code, _ := p.exit(t, time.Now(), wait); code != 1 {
			t.Errorf("exit code %d, want 1 (never a zombie)", code)
		}
	})
}
