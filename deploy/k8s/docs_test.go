package k8s_test

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestSecretsDocumented: every Secret and key the manifests reference is
// created by a command of docs/operations.md, so that an operator who
// follows it starts pods that find their Secrets.
func TestSecretsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := documentedSecrets(string(doc))
	if len(documented) == 0 {
		t.Fatal("docs/operations.md creates no Secret")
	}
	for _, ov := range overlays(t) {
		for _, w := range workloads(objects(t, ov)) {
			for _, c := range containers(&w.pod.Spec) {
				for _, e := range c.Env {
					if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
						continue
					}
					ref := e.ValueFrom.SecretKeyRef
					if !slices.Contains(documented[ref.Name], ref.Key) {
						t.Errorf("%s: %s: Secret %s key %s is not created in docs/operations.md", ov, w.obj, ref.Name, ref.Key)
					}
				}
			}
			for _, v := range w.pod.Spec.Volumes {
				if v.Secret == nil {
					continue
				}
				keys, ok := documented[v.Secret.SecretName]
				if !ok {
					t.Errorf("%s: %s: Secret %s is not created in docs/operations.md", ov, w.obj, v.Secret.SecretName)
				}
				for _, it := range v.Secret.Items {
					if !slices.Contains(keys, it.Key) {
						t.Errorf("%s: %s: Secret %s key %s is not created in docs/operations.md", ov, w.obj, v.Secret.SecretName, it.Key)
					}
				}
			}
		}
	}
}

var (
	createSecret = regexp.MustCompile(`create secret generic ([a-z0-9-]+)`)
	fromFlag     = regexp.MustCompile(`--from-(literal|file)=(\S+)`)
)

// documentedSecrets reads the `kubectl create secret generic NAME
// --from-literal=KEY=... --from-file=KEY=...` commands (with their
// continuation lines) of the document.
func documentedSecrets(doc string) map[string][]string {
	out := map[string][]string{}
	var cmd strings.Builder
	flush := func() {
		if m := createSecret.FindStringSubmatch(cmd.String()); m != nil {
			if _, ok := out[m[1]]; !ok {
				out[m[1]] = []string{}
			}
			for _, f := range fromFlag.FindAllStringSubmatch(cmd.String(), -1) {
				key, _, hasKey := strings.Cut(f[2], "=")
				if f[1] == "file" && !hasKey {
					key = path.Base(key) // --from-file=PATH: the key is the file's name
				}
				if !slices.Contains(out[m[1]], key) {
					out[m[1]] = append(out[m[1]], key)
				}
			}
			sort.Strings(out[m[1]])
		}
		cmd.Reset()
	}
	for _, line := range strings.Split(doc, "\n") {
		cmd.WriteString(line)
		if !strings.HasSuffix(strings.TrimSpace(line), `\`) {
			flush()
		}
	}
	return out
}

func TestDocumentedSecretsParser(t *testing.T) {
	got := documentedSecrets("x\nkubectl -n bndmr create secret generic a \\\n  --from-literal=k1=\"$(pw)\" \\\n  --from-file=k2.json=f\nkubectl create secret generic b --from-literal=z=1\nkubectl create secret generic c --from-file=dir/key-1.json\n")
	if !slices.Equal(got["a"], []string{"k1", "k2.json"}) || !slices.Equal(got["b"], []string{"z"}) || !slices.Equal(got["c"], []string{"key-1.json"}) || len(got) != 3 {
		t.Fatalf("parsed %v", got)
	}
}

var (
	cmPlain     = regexp.MustCompile("ConfigMap\\s+`([a-z0-9-]+)`|`([a-z0-9-]+)`\\s+ConfigMap\\b(\\s+generator)?")
	cmGenerator = regexp.MustCompile("ConfigMap\\s+generator\\s+`([a-z0-9-]+)`")
	cmCreated   = regexp.MustCompile(`create configmap ([a-z0-9-]+)`)
	kubectlRef  = regexp.MustCompile(`\b(deployment|statefulset|job|cronjob|configmap|secret|service)/([a-z0-9-]+)`)
	hashSuffix  = regexp.MustCompile(`^(.+)-[a-z0-9]{10}$`)
)

// TestManifestNamesDocumented: the objects README.md and docs/*.md name
// exist as rendered. A generated ConfigMap is named "ConfigMap generator
// `X`" (its rendered name carries a hash: X-<hash>); "ConfigMap `X`" must be
// the exact name of a rendered ConfigMap or of one the docs create;
// kubectl's kind/NAME must be a rendered object of one overlay.
func TestManifestNamesDocumented(t *testing.T) {
	rendered := map[string]bool{}   // kind/name, lower-case kind
	generators := map[string]bool{} // generator names
	for _, ov := range overlays(t) {
		for _, o := range objects(t, ov) {
			rendered[strings.ToLower(o.Kind)+"/"+o.Name] = true
			if o.Kind == "ConfigMap" {
				if m := hashSuffix.FindStringSubmatch(o.Name); m != nil {
					generators[m[1]] = true
				}
			}
		}
	}
	paths, _ := filepath.Glob("../../docs/*.md")
	paths = append(paths, "../../README.md")
	all := ""
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all += string(b)
	}
	created := map[string]bool{}
	for _, m := range cmCreated.FindAllStringSubmatch(all, -1) {
		created[m[1]] = true
	}
	for s := range documentedSecrets(all) {
		rendered["secret/"+s] = true
	}
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		doc := strings.Join(strings.Fields(string(b)), " ") // names split across lines
		for _, m := range cmGenerator.FindAllStringSubmatch(doc, -1) {
			if !generators[m[1]] {
				t.Errorf("%s: ConfigMap generator %q: no rendered ConfigMap %s-<hash>", p, m[1], m[1])
			}
		}
		for _, m := range cmPlain.FindAllStringSubmatch(doc, -1) {
			name := m[1] + m[2]
			if m[3] != "" {
				if !generators[name] {
					t.Errorf("%s: ConfigMap generator %q: no rendered ConfigMap %s-<hash>", p, name, name)
				}
				continue
			}
			if !rendered["configmap/"+name] && !created[name] {
				hint := ""
				if generators[name] {
					hint = ` (it is generated: write "ConfigMap generator` + " `" + name + "`" + `", its name carries a hash)`
				}
				t.Errorf("%s: ConfigMap %q is not a rendered ConfigMap%s", p, name, hint)
			}
		}
		for _, m := range kubectlRef.FindAllStringSubmatch(doc, -1) {
			ref := m[1] + "/" + m[2]
			if m[1] == "configmap" && created[m[2]] {
				continue
			}
			if m[1] == "job" && createdFromCronJob(rendered, m[2]) {
				continue
			}
			if !rendered[ref] {
				t.Errorf("%s: %s is not a rendered object of any overlay", p, ref)
			}
		}
	}
}

// createdFromCronJob: a Job named CRONJOB-SUFFIX, as
// `kubectl create job --from=cronjob/CRONJOB` makes them.
func createdFromCronJob(rendered map[string]bool, job string) bool {
	for ref := range rendered {
		if cj, ok := strings.CutPrefix(ref, "cronjob/"); ok && strings.HasPrefix(job, cj+"-") {
			return true
		}
	}
	return false
}
