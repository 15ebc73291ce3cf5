// Command mutate is the hub's mutation tester (make mutate). For each
// package of a config file it lists small source changes (mutants: a
// comparison flipped, a condition negated, && for ||, + for -, a constant off
// by one, a statement deleted), samples some with a fixed seed, builds the
// package's tests with each mutant laid over the source (go test -overlay,
// the tree is never written), runs them one at a time under a timeout, and
// prints how many mutants the tests caught.
//
// A mutant that does not compile is "not viable", never a kill: a type
// check in-process weeds most out, and a failed build is classified the
// same way. Survivors judged harmless are listed, with a reason, in the
// equivalent file; the table counts them apart.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// A Target is one line of the config file.
type Target struct {
	Dir     string
	Sample  int           // mutants to run; 0 for all
	Timeout time.Duration // per mutant test run; 0 for 3× the baseline + 15 s
	Flags   []string      // for the test binary
}

func main() {
	var (
		config = flag.String("config", "mutate/packages.txt", "the packages, sample sizes and test flags")
		equiv  = flag.String("equivalent", "mutate/equivalent.txt", "surviving mutants judged harmless, one `key reason` a line")
		seed   = flag.Uint64("seed", 20, "sampling seed")
		n      = flag.Int("n", -1, "mutants per package, overriding the config (0: all)")
		pkgs   = flag.String("pkg", "", "comma-separated package directories to run (default: all in the config)")
		only   = flag.String("only", "", "run only the sampled mutants whose key matches this regexp")
		list   = flag.Bool("list", false, "list the sampled mutants and stop")
		resume = flag.String("resume", "", "the output of an earlier run: its killed and not viable mutants are carried over, not run again")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, options{*config, *equiv, *seed, *n, *pkgs, *only, *list, *resume}); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

type options struct {
	config, equiv string
	seed          uint64
	n             int
	pkgs, only    string
	list          bool
	resume        string
}

type tally struct {
	target                                                 Target
	candidates, mutants, killed, survived, equiv, nv, tout int
	ran, skipped                                           int
	survivors, staleEquiv                                  []string
}

func run(ctx context.Context, w io.Writer, o options) error {
	root, err := workspaceRoot()
	if err != nil {
		return err
	}
	targets, err := readConfig(filepath.Join(root, o.config))
	if err != nil {
		return err
	}
	equivalent, err := readEquivalent(filepath.Join(root, o.equiv))
	if err != nil {
		return err
	}
	var onlyRE *regexp.Regexp
	if o.only != "" {
		if onlyRE, err = regexp.Compile(o.only); err != nil {
			return fmt.Errorf("-only: %w", err)
		}
	}
	wanted := map[string]bool{}
	for _, p := range strings.Split(o.pkgs, ",") {
		if p = strings.TrimSpace(p); p != "" {
			wanted[strings.TrimSuffix(p, "/")] = true
		}
	}
	previous, err := readPrevious(o.resume)
	if err != nil {
		return err
	}
	if o.resume != "" {
		fmt.Fprintf(w, "mutate: %d killed or not viable mutants carried over from %s (marked \"earlier\")\n", len(previous), o.resume)
	}
	fmt.Fprintf(w, "mutate: seed %d, one test process at a time; tests that run for each mutant are the package's own, with the flags below\n", o.seed)
	var tallies []*tally
	for _, t := range targets {
		if len(wanted) > 0 && !wanted[t.Dir] {
			continue
		}
		if o.n >= 0 {
			t.Sample = o.n
		}
		tl, err := mutatePackage(ctx, w, root, t, o.seed, onlyRE, equivalent, previous, o.list)
		if err != nil {
			return err
		}
		tallies = append(tallies, tl)
		if ctx.Err() != nil {
			break
		}
	}
	if !o.list {
		report(w, tallies)
	}
	return ctx.Err()
}

// sampleMutants shuffles the mutants of target t (the same order for the
// same seed and package), keeps t.Sample of them, and of those the ones
// only matches (nil: all).
func sampleMutants(all []Mutant, t Target, seed uint64, only *regexp.Regexp) []Mutant {
	h := fnv.New64a()
	h.Write([]byte(t.Dir))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	sample := all
	if t.Sample > 0 && t.Sample < len(all) {
		sample = all[:t.Sample]
	}
	if only == nil {
		return sample
	}
	var kept []Mutant
	for _, m := range sample {
		if only.MatchString(m.Key()) {
			kept = append(kept, m)
		}
	}
	return kept
}

// count adds the result of mutant m to the tally and returns its label; a
// survivor listed as equivalent is counted as such, with the list's reason
// as its detail.
func (tl *tally) count(m Mutant, res *Result, equivalent map[string]string) string {
	label := res.Outcome.String()
	reason, isEquiv := equivalent[m.Key()]
	switch res.Outcome {
	case Killed:
		tl.killed++
		if isEquiv {
			tl.staleEquiv = append(tl.staleEquiv, m.Key())
		}
	case Survived:
		if isEquiv {
			tl.equiv++
			label = "equivalent"
			res.Detail = reason
		} else {
			tl.survived++
			tl.survivors = append(tl.survivors, fmt.Sprintf("%s  => %q", m.Key(), m.Repl))
		}
	case NotViable:
		tl.nv++
	case TimedOut:
		tl.tout++
	}
	return label
}

func mutatePackage(ctx context.Context, w io.Writer, root string, t Target, seed uint64, only *regexp.Regexp, equivalent map[string]string, previous map[string]Result, list bool) (*tally, error) {
	tl := &tally{target: t}
	p, err := Load(root, t.Dir)
	if err != nil {
		return nil, err
	}
	all := p.Mutants(root)
	tl.candidates = len(all)
	for _, k := range unmatchedKeys(equivalent, t.Dir, all) {
		fmt.Fprintf(w, "  note: %s is listed as equivalent but is no mutant of the code any more (its line moved or went): judge it again at its new place\n", k)
	}
	sample := sampleMutants(all, t, seed, only)
	fmt.Fprintf(w, "\n== %s: %d candidate mutants, %d sampled; test flags: %s\n", t.Dir, len(all), len(sample), flagsText(t.Flags))
	if list {
		for _, m := range sample {
			fmt.Fprintf(w, "  %s  => %q\n", m.Key(), m.Repl)
		}
		return tl, nil
	}
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	r := &Runner{Root: root, Dir: t.Dir, Flags: t.Flags, Timeout: t.Timeout, Tmp: tmp}
	if r.Timeout == 0 {
		r.Timeout = 10 * time.Minute // for the baseline only; set below
	}
	ran, skipped, base, err := r.Baseline(ctx)
	if err != nil {
		return nil, err
	}
	tl.ran, tl.skipped = ran, skipped
	if t.Timeout == 0 {
		r.Timeout = 3*base + 15*time.Second
	}
	fmt.Fprintf(w, "   baseline: %d tests ran (%d skipped) in %s; timeout per mutant %s\n", ran, skipped, base.Round(100*time.Millisecond), r.Timeout)
	for i, m := range sample {
		if ctx.Err() != nil {
			break
		}
		tl.mutants++
		res, earlier := previous[m.Key()]
		if earlier {
			res.Detail = "(earlier) " + res.Detail
		} else if ok, why := p.Compiles(m); !ok {
			res = Result{Outcome: NotViable, Detail: "type check: " + why}
		} else {
			res = r.Run(ctx, m, p.Source(m))
		}
		label := tl.count(m, &res, equivalent)
		fmt.Fprintf(w, "  [%3d/%d] %-10s %s (%s) %s\n", i+1, len(sample), label, m.Key(), res.Elapsed.Round(100*time.Millisecond), res.Detail)
	}
	return tl, nil
}

func report(w io.Writer, tallies []*tally) {
	fmt.Fprintln(w, "\nefficacy = killed / (killed + survived); equivalent survivors (mutate/equivalent.txt) are counted apart, not as survivors")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "package\tcandidates\tmutants\tkilled\tsurvived\tequivalent\tnot viable\ttimed out\tefficacy\t")
	for _, t := range tallies {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", t.target.Dir, t.candidates, t.mutants, t.killed, t.survived, t.equiv, t.nv, t.tout, efficacy(t.killed, t.survived))
	}
	tw.Flush()
	var below []string
	for _, t := range tallies {
		if t.killed+t.survived > 0 && float64(t.killed) < target*float64(t.killed+t.survived) {
			below = append(below, t.target.Dir)
		}
	}
	if len(below) > 0 {
		fmt.Fprintf(w, "below the %.0f %% target: %s\n", 100*target, strings.Join(below, ", "))
	} else {
		fmt.Fprintf(w, "every package at or above the %.0f %% target\n", 100*target)
	}
	fmt.Fprintln(w, "\ntests run for each mutant:")
	for _, t := range tallies {
		fmt.Fprintf(w, "  %-18s %d tests (%d skipped), flags: %s\n", t.target.Dir, t.ran, t.skipped, flagsText(t.target.Flags))
	}
	for _, t := range tallies {
		if len(t.survivors) > 0 {
			fmt.Fprintf(w, "\nsurviving mutants of %s:\n", t.target.Dir)
			for _, s := range t.survivors {
				fmt.Fprintln(w, "  "+s)
			}
		}
		for _, s := range t.staleEquiv {
			fmt.Fprintf(w, "  note: %s is listed as equivalent but was killed: remove it from the list\n", s)
		}
	}
}

// target is the efficacy each package should reach (issue 20, point 8).
const target = 0.85

func efficacy(killed, survived int) string {
	if killed+survived == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(killed)/float64(killed+survived))
}

func flagsText(f []string) string {
	if len(f) == 0 {
		return "(all tests)"
	}
	return strings.Join(f, " ")
}

var previousRE = regexp.MustCompile(`^\s*\[\s*\d+/\d+\] (killed|not viable) +(\S+) \([^)]*\) ?(.*)$`)

// readPrevious reads the killed and not viable mutants of an earlier run's
// output. Survivors and timeouts are not read: they run again.
func readPrevious(path string) (map[string]Result, error) {
	out := map[string]Result{}
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-resume: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		m := previousRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		detail := m[3]
		for strings.HasPrefix(detail, "(earlier) ") {
			detail = strings.TrimPrefix(detail, "(earlier) ") // from a resumed run
		}
		r := Result{Outcome: Killed, Detail: detail}
		if m[1] == "not viable" {
			r.Outcome = NotViable
		}
		out[m[2]] = r
	}
	return out, nil
}

// readConfig reads `dir sample timeout flags...` lines; # starts a comment.
func readConfig(path string) ([]Target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mutate config: %w", err)
	}
	defer f.Close()
	var out []Target
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s:%d: want `dir sample timeout [test flags]`", path, ln)
		}
		t := Target{Dir: strings.TrimSuffix(fields[0], "/"), Flags: fields[3:]}
		if t.Sample, err = strconv.Atoi(fields[1]); err != nil || t.Sample < 0 {
			return nil, fmt.Errorf("%s:%d: sample %q: want a count, 0 for all", path, ln, fields[1])
		}
		if fields[2] != "auto" {
			if t.Timeout, err = time.ParseDuration(fields[2]); err != nil {
				return nil, fmt.Errorf("%s:%d: timeout: %w", path, ln, err)
			}
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// unmatchedKeys returns the keys of equivalent under dir that name none of
// the candidates all: stale keys, whose code moved or went (a merge above
// them), which the sampled run cannot notice when it does not draw them.
func unmatchedKeys(equivalent map[string]string, dir string, all []Mutant) []string {
	keys := map[string]bool{}
	for _, m := range all {
		keys[m.Key()] = true
	}
	var out []string
	for k := range equivalent {
		if strings.HasPrefix(k, dir+"/") && !keys[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// readEquivalent reads `key reason` lines. A missing file is an empty list.
func readEquivalent(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: %s: an equivalent mutant needs a reason", path, ln, key)
		}
		out[key] = strings.TrimSpace(reason)
	}
	return out, sc.Err()
}

// workspaceRoot is the nearest directory above the working one with a go.work.
func workspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory")
		}
		dir = parent
	}
}
