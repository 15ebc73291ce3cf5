package chaos

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/services/internal/localenv"
)

// proc is one daemon of the topology: a NATS server or a service replica,
// as scripts/up-topology.sh launches it (the environment of its env file
// and nothing else but PATH and HOME), with overrides a case may set. The
// pid file is the script's, so scripts/down-topology.sh stops what the
// suite restarted.
type proc struct {
	name    string
	bin     string
	args    []string
	envFile string
	log     string
	pidFile string
	http    string // host:port of /readyz and /metrics ("" for NATS)
	env     map[string]string

	mu   sync.Mutex
	pid  int
	done chan struct{} // closed when the child the suite started is reaped
	// exitErr is the child's exit status, once done is closed.
	exitErr error
}

func mustEnv(t testing.TB, path string) map[string]string {
	t.Helper()
	env, err := localenv.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// current is the pid running now: the suite's child, or the one of the pid
// file (started by the script).
func (p *proc) current() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid != 0 {
		return p.pid
	}
	b, err := os.ReadFile(p.pidFile)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func (p *proc) alive() bool {
	pid := p.current()
	return pid > 0 && !testsupport.ProcessGone(pid)
}

// signal sends sig and waits (up to 60 s, then SIGKILL) for the process to go.
func (p *proc) stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	pid := p.current()
	if pid <= 0 || testsupport.ProcessGone(pid) {
		return
	}
	_ = syscall.Kill(pid, sig)
	for i := 0; !testsupport.ProcessGone(pid); i++ {
		if i == 600 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if i == 900 {
			t.Fatalf("%s (pid %d) still there 90 s after signal %v", p.name, pid, sig)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.mu.Lock()
	if p.pid == pid && p.done != nil {
		p.mu.Unlock()
		<-p.done
		p.mu.Lock()
	}
	p.pid = 0
	p.mu.Unlock()
}

// start launches the daemon unless it runs; overrides replace variables of
// the env file (nil: as the file says).
func (p *proc) start(t testing.TB, overrides map[string]string) {
	t.Helper()
	if p.alive() {
		return
	}
	env := mustEnv(t, p.envFile)
	for k, v := range overrides {
		env[k] = v
	}
	p.env = env
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	lf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("starting %s: %v", p.name, err)
	}
	lf.Close()
	done := make(chan struct{})
	go func() { p.exitErr = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.pid, p.done = cmd.Process.Pid, done
	p.mu.Unlock()
	_ = os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	// The script's stamp no longer describes this process: up-topology
	// restarts it as the overlay says on its next run.
	_ = os.Remove(p.pidFile + ".stamp")
}

// restart stops (SIGTERM) and starts with overrides.
func (p *proc) restart(t testing.TB, overrides map[string]string) {
	t.Helper()
	p.stop(t, syscall.SIGTERM)
	p.start(t, overrides)
}

// ready waits for /readyz (services) within d.
func (p *proc) ready(t testing.TB, d time.Duration) {
	t.Helper()
	if p.http == "" {
		return
	}
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get("http://" + p.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s (%v); log %s", p.name, d, err, p.log)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// metric sums the samples of a Prometheus metric on /metrics whose line
// starts with name (labels included in the prefix if given).
func (p *proc) metric(name string) (float64, error) {
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(name):]
		if rest != "" && rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// topology is what .run/topology/processes lists.
type topology struct {
	nats     []*proc
	services []*proc
}

func loadProcs(s *site) (topology, error) {
	f, err := os.Open(filepath.Join(s.dir, "processes"))
	if err != nil {
		return topology{}, err
	}
	defer f.Close()
	var tp topology
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		switch {
		case len(w) >= 5 && w[0] == "nats":
			d := filepath.Dir(w[4])
			tp.nats = append(tp.nats, &proc{name: w[1], bin: filepath.Join(s.root, "bin", "nats-server"),
				args: []string{"--config", w[4]}, envFile: filepath.Join(d, "env"), log: filepath.Join(d, "nats.log"),
				pidFile: filepath.Join(d, "nats.pid")})
		case len(w) >= 4 && w[0] == "service":
			d := filepath.Join(s.dir, "instances", w[1])
			tp.services = append(tp.services, &proc{name: w[1], bin: filepath.Join(s.root, "bin", w[2]),
				envFile: filepath.Join(d, "env"), log: filepath.Join(d, "log"), pidFile: filepath.Join(d, "pid"), http: w[3]})
		}
	}
	return tp, sc.Err()
}

// of returns the replicas of a service ("ingest" → ingest-0, ingest-1).
func (tp topology) of(service string) []*proc {
	var out []*proc
	for _, p := range tp.services {
		if strings.TrimRight(strings.TrimRight(p.name, "0123456789"), "-") == service {
			out = append(out, p)
		}
	}
	return out
}

func (tp topology) named(name string) *proc {
	for _, p := range append(append([]*proc{}, tp.nats...), tp.services...) {
		if p.name == name {
			return p
		}
	}
	return nil
}
