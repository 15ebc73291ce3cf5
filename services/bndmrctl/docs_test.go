package main

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/services/internal/app"
)

// The documentation's names are checked against what exists: make targets
// against the Makefile, bndmrctl commands and their flags against the help
// each command prints, settings against the code that reads them. Nothing
// here lists them by hand: a command, flag or setting added elsewhere is
// found where it is defined.

const repo = "../.."

// docs returns README.md and docs/*.md by path.
func docs(t *testing.T) map[string]string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	paths = append(paths, filepath.Join(repo, "README.md"))
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repo, p)
		out[rel] = string(b)
	}
	if len(out) < 2 {
		t.Fatal("no documentation found")
	}
	return out
}

// codeSpans are the inline code spans and fenced blocks of a Markdown text.
func codeSpans(md string) []string {
	var out []string
	fenced := regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	for _, m := range fenced.FindAllStringSubmatch(md, -1) {
		out = append(out, strings.Split(m[1], "\n")...)
	}
	md = fenced.ReplaceAllString(md, "")
	for _, m := range regexp.MustCompile("`([^`\n]+)`").FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

var makeTarget = regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):.*?(## (.*))?$`)

// TestDocsMakeTargets: every `make TARGET` of the documentation is a target
// of the Makefile, and README.md names every documented target (## help).
func TestDocsMakeTargets(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repo, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets, documented := map[string]bool{}, []string{}
	for _, m := range makeTarget.FindAllStringSubmatch(string(b), -1) {
		targets[m[1]] = true
		if m[2] != "" {
			documented = append(documented, m[1])
		}
	}
	use := regexp.MustCompile(`^make ([a-z][a-z0-9-]*)`)
	for path, md := range docs(t) {
		for _, span := range codeSpans(md) {
			for _, part := range strings.Split(span, "&&") {
				if m := use.FindStringSubmatch(strings.TrimSpace(part)); m != nil && !targets[m[1]] {
					t.Errorf("%s: `make %s`: no such target in the Makefile", path, m[1])
				}
			}
		}
	}
	readme := docs(t)["README.md"]
	for _, tg := range documented {
		if !strings.Contains(readme, "`"+tg+"`") && !strings.Contains(readme, "`make "+tg) {
			t.Errorf("README.md does not name make target %s (Makefile: %s)", tg, "## help")
		}
	}
}

// helpOf runs bndmrctl ARGS... -h and returns what it printed.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	var b strings.Builder
	run(context.Background(), append(args, "-h"), &b, &b)
	return b.String()
}

var (
	ctlUse  = regexp.MustCompile(`bndmrctl ([a-z][a-z-]*)((?: [a-z][a-z-]*)?)`)
	ctlFlag = regexp.MustCompile(`(?:^|\s|\[)(--[a-z][a-z0-9-]*)`)
)

// TestDocsBndmrctl: every `bndmrctl COMMAND` the documentation writes is a
// command, every --flag written after it is in that command's help (or its
// sub-command's), and README.md's table names every command.
func TestDocsBndmrctl(t *testing.T) {
	cmds := commands()
	// `for s in ingest … bndmrctl hub` lists binaries, not a command.
	binaries := map[string]bool{}
	mains, _ := filepath.Glob(filepath.Join(repo, "services", "*", "main.go"))
	for _, m := range mains {
		binaries[filepath.Base(filepath.Dir(m))] = true
	}
	helps := map[string]string{}
	help := func(args ...string) string {
		k := strings.Join(args, " ")
		if h, ok := helps[k]; ok {
			return h
		}
		helps[k] = helpOf(t, args...)
		return helps[k]
	}
	for path, md := range docs(t) {
		for _, span := range codeSpans(md) {
			// README's table: a row's first cell is `COMMAND [flags]`.
			if first, _, _ := strings.Cut(span, " "); path == "README.md" && cmds[first].run != nil && strings.Contains(md, "| `"+span+"` |") {
				span = "bndmrctl " + span
			}
			for _, use := range strings.Split(span, "|") {
				i := strings.Index(use, "bndmrctl ")
				if i < 0 {
					continue
				}
				use = use[i:]
				m := ctlUse.FindStringSubmatch(use)
				if m == nil {
					continue
				}
				if binaries[m[1]] {
					continue
				}
				if _, ok := cmds[m[1]]; !ok {
					t.Errorf("%s: `%s`: bndmrctl has no command %q", path, use, m[1])
					continue
				}
				h := help(m[1])
				if sub := strings.TrimSpace(m[2]); sub != "" && !strings.HasPrefix(sub, "-") {
					h += help(m[1], sub)
				}
				for _, f := range ctlFlag.FindAllStringSubmatch(use, -1) {
					name := f[1]
					if name == "--help" || strings.Contains(h, " -"+name[2:]) || strings.Contains(h, name) {
						continue
					}
					t.Errorf("%s: `%s`: %s is not a flag of bndmrctl %s (its -h)", path, use, name, strings.TrimSpace(m[1]+m[2]))
				}
			}
		}
	}
	// A row names a command when one of its code spans starts with it
	// (`backup nats`, `restore nats` may share a row).
	var rows []string
	for _, line := range strings.Split(docs(t)["README.md"], "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}
	for name := range cmds {
		named := false
		for _, r := range rows {
			first, _, _ := strings.Cut(r[2:], " |")
			named = named || strings.Contains(first, "`"+name+" ") || strings.Contains(first, "`"+name+"`")
		}
		if !named {
			t.Errorf("README.md's bndmrctl table has no row for %s", name)
		}
	}
}

var settingName = regexp.MustCompile(`\b((?:BNDMR|CISIS)_[A-Z0-9_]*[A-Z0-9])\b(\*)?`)

// settingsRead are the settings the code names: the services, libraries and
// tests (test settings are documented too), the Makefile and the scripts.
func settingsRead(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	lit := regexp.MustCompile(`"((?:BNDMR|CISIS)_[A-Z0-9_]+)"|\b((?:BNDMR|CISIS)_[A-Z0-9_]+)\b`)
	for _, dir := range []string{"services", "pkg", "pseudonymisation", "scripts", "deploy", "tools"} {
		err := filepath.WalkDir(filepath.Join(repo, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, ".sh") && !strings.HasSuffix(p, ".yaml") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
				known[m[1]+m[2]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(repo, "Makefile"))
	for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
		known[m[1]+m[2]] = true
	}
	// The flags' variables follow from their names (service.EnvOf): no
	// literal names them.
	for _, s := range serviceSettings(t) {
		known[s] = true
	}
	for _, fl := range commandFlags(t) {
		if fl.env != "" {
			known[fl.env] = true
		}
	}
	return known
}

// serviceSettings are the settings the flags of the hub and of every
// service read (their environment fallbacks): every one must be
// documented.
func serviceSettings(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	for _, fs := range app.FlagSets() {
		fs.VisitAll(func(fl *flag.Flag) { set[service.EnvOf(fl.Name)] = true })
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// commandFlag is a flag of a bndmrctl command as its -h shows it.
type commandFlag struct {
	command, name, env string // env: the variable the help names, if any
}

var helpFlag = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)

// commandFlags reads the flags of every bndmrctl command, and of the
// sub-commands README.md's table names (`backup nats`…), from their -h.
func commandFlags(t *testing.T) []commandFlag {
	t.Helper()
	uses := map[string][]string{}
	for name := range commands() {
		uses[name] = []string{name}
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z][a-z-]*) ([a-z][a-z-]*)\\b")
	for _, m := range row.FindAllStringSubmatch(docs(t)["README.md"], -1) {
		if _, ok := commands()[m[1]]; ok {
			uses[m[1]+" "+m[2]] = []string{m[1], m[2]}
		}
	}
	var out []commandFlag
	for use, args := range uses {
		h := helpOf(t, args...)
		idx := helpFlag.FindAllStringSubmatchIndex(h, -1)
		for i, m := range idx {
			end := len(h)
			if i+1 < len(idx) {
				end = idx[i+1][0]
			}
			block := h[m[0]:end]
			fl := commandFlag{command: use, name: h[m[2]:m[3]]}
			if e := regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`).FindStringSubmatch(block); e != nil {
				fl.env = e[1]
			}
			out = append(out, fl)
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d flags read from the commands' help", len(out))
	}
	return out
}

// TestCommandFlagsFollowTheRule: a bndmrctl flag that has an environment
// variable has the one service.EnvOf makes of its name, and the settings
// a command shares with the services (NATS, ClickHouse, the kit) have one:
// they come from the services' registrations.
func TestCommandFlagsFollowTheRule(t *testing.T) {
	shared := map[string]bool{}
	for _, s := range serviceSettings(t) {
		shared[s] = true
	}
	flags, withEnv := commandFlags(t), 0
	for _, fl := range flags {
		if fl.env != "" {
			withEnv++
		}
	}
	t.Logf("%d flags of bndmrctl commands, %d with a variable", len(flags), withEnv)
	for _, fl := range flags {
		want := service.EnvOf(fl.name)
		switch {
		case fl.env != "" && fl.env != want:
			t.Errorf("bndmrctl %s --%s: variable %s, want %s", fl.command, fl.name, fl.env, want)
		case fl.env == "" && shared[want] && !strings.HasPrefix(fl.command+" ", "kit ") && fl.name != "small-count-threshold":
			// --kit of `kit check` is the kit to switch to, not the
			// one in use; --small-count-threshold is the command's own.
			t.Errorf("bndmrctl %s --%s: a setting of the services declared without its variable %s (use its RegisterFlags)", fl.command, fl.name, want)
		}
	}
}

// documentedSettings reads the settings named in md, with the README's
// shorthand: `_TLS` after `BNDMR_IMAP_ADDR` in one table cell is
// BNDMR_IMAP_TLS.
func documentedSettings(md string) map[string]bool {
	out := map[string]bool{}
	short := regexp.MustCompile("`(_[A-Z0-9_]+)`")
	for _, line := range strings.Split(md, "\n") {
		for _, cell := range strings.Split(line, "|") {
			prefix := ""
			for _, tok := range regexp.MustCompile("`[^`]+`").FindAllString(cell, -1) {
				if m := settingName.FindStringSubmatch(tok); m != nil {
					out[m[1]] = true
					if i := strings.LastIndex(m[1], "_"); i > 0 {
						prefix = m[1][:i]
					}
				} else if m := short.FindStringSubmatch(tok); m != nil && prefix != "" {
					out[prefix+m[1]] = true
				}
			}
		}
		for _, m := range settingName.FindAllStringSubmatch(line, -1) {
			out[m[1]+m[2]] = true
		}
	}
	return out
}

// TestDocsSettings: every setting the documentation names is read somewhere
// (a `PREFIX_*` family by a name with that prefix), and every setting a
// service reads is documented.
func TestDocsSettings(t *testing.T) {
	known := settingsRead(t)
	all := map[string]bool{}
	for path, md := range docs(t) {
		for s := range documentedSettings(md) {
			all[s] = true
			if strings.HasSuffix(s, "*") {
				found := false
				for k := range known {
					found = found || strings.HasPrefix(k, strings.TrimSuffix(s, "*"))
				}
				if !found {
					t.Errorf("%s: %s: no setting of that family is read", path, s)
				}
				continue
			}
			if !known[s] {
				t.Errorf("%s: %s is not a setting the code, the Makefile or the scripts read", path, s)
			}
		}
	}
	for _, s := range serviceSettings(t) {
		if !all[s] {
			t.Errorf("%s is read by a service but named in neither README.md nor docs/", s)
		}
	}
}

// TestDocsServiceFlags: every --flag the documentation and the scripts
// give `bin/hub` or a service's binary is a flag of it (its flag set, as
// its main declares it).
func TestDocsServiceFlags(t *testing.T) {
	sets := app.FlagSets()
	texts := map[string][]string{}
	for path, md := range docs(t) {
		texts[path] = codeSpans(md)
	}
	scripts, _ := filepath.Glob(filepath.Join(repo, "scripts", "*.sh"))
	for _, p := range scripts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repo, p)
		texts[rel] = strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n")
	}
	use := regexp.MustCompile(`bin/([a-z]+) (.*)`)
	checked := 0
	for path, lines := range texts {
		for _, line := range lines {
			m := use.FindStringSubmatch(line)
			if m == nil || sets[m[1]] == nil {
				continue
			}
			for _, f := range ctlFlag.FindAllStringSubmatch(m[2], -1) {
				checked++
				if sets[m[1]].Lookup(f[1][2:]) == nil {
					t.Errorf("%s: `bin/%s … %s`: %s has no such flag", path, m[1], f[1], m[1])
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d flags of bin/hub or a service found in the docs and scripts", checked)
	}
}
