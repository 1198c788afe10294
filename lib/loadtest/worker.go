package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ReadyLine is what the worker logs once it consumes.
const ReadyLine = "Fully initialized and waiting for messages"

// RepoRoot is the directory of the module's go.mod, found from the working
// directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/fitbitplus/connector\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/fitbitplus/connector) not found above the working directory")
		}
		dir = parent
	}
}

type built struct {
	once sync.Once
	path string
	err  error
}

var builds = map[string]*built{"connector": {}, "loadbench": {}}

// BuildConnector builds cmd/connector once per process into a temporary
// directory and returns the binary's path.
func BuildConnector() (string, error) { return buildCommand("connector") }

// BuildLoadbench builds cmd/loadbench likewise (its `relay` subcommand is
// the relay process of BenchConfig.RelayBinary).
func BuildLoadbench() (string, error) { return buildCommand("loadbench") }

func buildCommand(name string) (string, error) {
	b := builds[name]
	b.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "loadtest-"+name+"-")
		if err != nil {
			b.err = err
			return
		}
		out := filepath.Join(dir, name)
		goBin := "go"
		if _, err := exec.LookPath(goBin); err != nil {
			goBin = "/usr/local/go/bin/go"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", out, "./cmd/"+name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/%s: %w: %s", name, err, msg)
			return
		}
		b.path = out
	})
	return b.path, b.err
}

// Worker is one `connector run` process.
type Worker struct {
	cmd     *exec.Cmd
	Started time.Time
	out     *capBuffer
	ready   chan struct{}
	readyAt time.Time
	done    chan struct{}
	waitErr error

	mu      sync.Mutex
	peakKB  int64 // highest VmHWM seen while running
	readyMu sync.Mutex
}

// StartWorker runs bin with args ("run") and exactly env (plus PATH and
// HOME), capturing stdout and stderr together.
func StartWorker(bin string, env map[string]string, args ...string) (*Worker, error) {
	return StartWorkerIn("", bin, env, args...)
}

// StartWorkerIn is StartWorker in the working directory dir ("": this
// process's), as the official sailor runs in its component's directory.
func StartWorkerIn(dir, bin string, env map[string]string, args ...string) (*Worker, error) {
	if len(args) == 0 {
		args = []string{"run"}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// An OS pipe the worker writes into directly: with an io.Pipe, exec
	// would copy every log line through one more goroutine of this process
	// (harness CPU on the cores the worker and the broker share).
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	w := &Worker{cmd: cmd, out: &capBuffer{max: 32 << 20}, ready: make(chan struct{}), done: make(chan struct{})}
	w.Started = time.Now()
	err = cmd.Start()
	_ = pw.Close() // the worker holds its own copy; EOF comes when it exits
	if err != nil {
		_ = pr.Close()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	scanned := make(chan struct{})
	go func() {
		w.scan(pr)
		_ = pr.Close()
		close(scanned)
	}()
	go w.sampleUntilExit()
	go func() {
		w.waitErr = cmd.Wait()
		<-scanned // every line the worker wrote is in w.out
		close(w.done)
	}()
	return w, nil
}

func (w *Worker) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	readySeen := false
	for sc.Scan() {
		line := sc.Bytes()
		w.out.write(line)
		if !readySeen && bytes.Contains(line, []byte(ReadyLine)) {
			readySeen = true
			w.readyMu.Lock()
			w.readyAt = time.Now()
			w.readyMu.Unlock()
			close(w.ready)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Pid is the process id.
func (w *Worker) Pid() int { return w.cmd.Process.Pid }

// WaitReady waits for ReadyLine (or the process's end, or the timeout).
func (w *Worker) WaitReady(timeout time.Duration) error {
	select {
	case <-w.ready:
		return nil
	case <-w.done:
		return fmt.Errorf("worker exited before it was ready (%v); output:\n%s", w.waitErr, w.Output())
	case <-time.After(timeout):
		return fmt.Errorf("worker not ready after %v; output:\n%s", timeout, w.Output())
	}
}

// ReadyAt is when ReadyLine was seen (zero before).
func (w *Worker) ReadyAt() time.Time {
	w.readyMu.Lock()
	defer w.readyMu.Unlock()
	return w.readyAt
}

// Signal sends sig to the process.
func (w *Worker) Signal(sig os.Signal) error { return w.cmd.Process.Signal(sig) }

// Exited reports whether the process has ended.
func (w *Worker) Exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// Wait waits (bounded) for the process to end and returns its exit code;
// after the timeout it kills the process and returns an error.
func (w *Worker) Wait(timeout time.Duration) (int, error) {
	select {
	case <-w.done:
	case <-time.After(timeout):
		_ = w.cmd.Process.Kill()
		<-w.done
		return -1, fmt.Errorf("worker did not exit within %v; killed", timeout)
	}
	return w.cmd.ProcessState.ExitCode(), nil
}

// Stop sends SIGTERM and waits (bounded) for the exit code.
func (w *Worker) Stop(timeout time.Duration) (int, error) {
	if !w.Exited() {
		w.Sample()
		_ = w.Signal(syscall.SIGTERM)
	}
	return w.Wait(timeout)
}

// Output is everything the worker printed (capped at 32 MiB).
func (w *Worker) Output() string { return w.out.String() }

// Usage is a worker's resource use.
type Usage struct {
	PeakRSSKB       int64         // peak resident set size
	CPU             time.Duration // user + system CPU time
	ContextSwitches int64         // voluntary and involuntary, of all its threads (Sample only)
}

// Sample reads the running process's CPU time and peak RSS from /proc
// (zero after the process ended, or off Linux).
func (w *Worker) Sample() Usage {
	u := procUsage(w.Pid())
	w.mu.Lock()
	if u.PeakRSSKB > w.peakKB {
		w.peakKB = u.PeakRSSKB
	}
	w.mu.Unlock()
	return u
}

// Final is the resource use of the ended process: CPU from rusage, peak
// RSS from the /proc samples (VmHWM, taken every 200 ms while it ran).
// rusage's ru_maxrss is no use here: on Linux a child's value includes the
// parent's resident set at fork time, so it reports the harness's size.
func (w *Worker) Final() Usage {
	var u Usage
	if st := w.cmd.ProcessState; st != nil {
		u.CPU = st.UserTime() + st.SystemTime()
	}
	w.mu.Lock()
	u.PeakRSSKB = w.peakKB
	w.mu.Unlock()
	return u
}

// sampleUntilExit records the peak RSS while the process runs.
func (w *Worker) sampleUntilExit() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.Sample()
		}
	}
}

// procUsage reads utime+stime (/proc/pid/stat, USER_HZ 100) and VmHWM
// (/proc/pid/status).
func procUsage(pid int) Usage {
	var u Usage
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the parenthesised command name; utime and stime are
		// fields 14 and 15 of the whole line.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				u.CPU = time.Duration(ut+st) * 10 * time.Millisecond
			}
		}
	}
	u.PeakRSSKB = statusField(fmt.Sprintf("/proc/%d/status", pid), "VmHWM:")
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		u.ContextSwitches += statusField(t, "voluntary_ctxt_switches:") + statusField(t, "nonvoluntary_ctxt_switches:")
	}
	return u
}

// statusField is the first number of a /proc status file's field, 0 when
// absent.
func statusField(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// capBuffer keeps lines up to max bytes, then drops the rest.
type capBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	max     int
	dropped bool
}

func (c *capBuffer) write(line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.b.Len()+len(line)+1 > c.max {
		c.dropped = true
		return
	}
	c.b.Write(line)
	c.b.WriteByte('\n')
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.b.String()
	if c.dropped {
		s += "[output truncated]\n"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
