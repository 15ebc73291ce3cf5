package k8s_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestProdPinsEveryImage: every image the prod render runs is listed in the
// prod overlay's images, so that an upgrade (or a kit switch) changes one
// file and the base's "latest" never reaches production.
func TestProdPinsEveryImage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("overlays", "prod", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct {
			Name   string `json:"name"`
			NewTag string `json:"newTag"`
		} `json:"images"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	pinned := map[string]string{}
	for _, im := range k.Images {
		pinned[im.Name] = im.NewTag
	}
	for _, w := range workloads(objects(t, "prod")) {
		for _, c := range containers(&w.pod.Spec) {
			name, tag, _ := strings.Cut(c.Image, ":")
			if want, ok := pinned[name]; !ok || want != tag {
				t.Errorf("%s: container %s runs %s: not pinned by overlays/prod/kustomization.yaml images (%q)", w.obj, c.Name, c.Image, want)
			}
		}
	}
}

// cronJob returns the rendered CronJob name of overlay and its container.
func cronJob(t *testing.T, overlay, name string) (*batchv1.CronJob, corev1.Container) {
	t.Helper()
	cj, ok := find[*batchv1.CronJob](objects(t, overlay), "CronJob", name)
	if !ok {
		t.Fatalf("%s: CronJob %s not rendered", overlay, name)
	}
	cs := cj.Spec.JobTemplate.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%s: CronJob %s has %d containers, want 1", overlay, name, len(cs))
	}
	return cj, cs[0]
}

func envValue(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// mountOf returns the volume mounted at the folder holding path.
func mountOf(pod *corev1.PodSpec, c corev1.Container, path string) (corev1.Volume, bool) {
	for _, m := range c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, m.MountPath+"/") {
			for _, v := range pod.Volumes {
				if v.Name == m.Name {
					return v, true
				}
			}
		}
	}
	return corev1.Volume{}, false
}

// TestOperatorJobs: the operator's CronJobs, as rendered in each overlay,
// run bndmrctl with its ClickHouse user, client certificate and files where
// the command looks for them, and no Kubernetes API token.
func TestOperatorJobs(t *testing.T) {
	for _, ov := range overlays(t) {
		objs := objects(t, ov)
		for _, tc := range []struct {
			name, user string
			args       []string
			suspended  bool
			// the path argument and the kind of volume it must be on
			path    string
			onClaim bool
		}{
			{"reference-import", "loader", []string{"import", "dir", "/etc/bndmr/reference"}, true, "/etc/bndmr/reference", false},
			{"dgos-export", "indicators", []string{"export", "dgos", "--month", "previous", "--format", "xlsx", "--out", "/exports/dgos-{month}.xlsx"}, false, "/exports/dgos-{month}.xlsx", true},
		} {
			cj, c := cronJob(t, ov, tc.name)
			pod := &cj.Spec.JobTemplate.Spec.Template.Spec
			who := ov + ": CronJob " + tc.name
			if (cj.Spec.Suspend != nil && *cj.Spec.Suspend) != tc.suspended {
				t.Errorf("%s: suspended %v, want %v", who, cj.Spec.Suspend, tc.suspended)
			}
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("%s: two runs may overlap", who)
			}
			if !strings.HasPrefix(c.Image, "bndmr/bndmrctl:") || !slices.Equal(c.Args, tc.args) {
				t.Errorf("%s: runs %s %v, want bndmr/bndmrctl %v", who, c.Image, c.Args, tc.args)
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Errorf("%s: mounts a Kubernetes API token it has no use for", who)
			}
			dsn, _ := envValue(c, "BNDMR_CLICKHOUSE")
			pw, _ := envValue(c, "CLICKHOUSE_PASSWORD")
			if !strings.HasPrefix(dsn.Value, "clickhouse://"+tc.user+":$(CLICKHOUSE_PASSWORD)@clickhouse:9440/") || !strings.Contains(dsn.Value, "secure=true") ||
				pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil || pw.ValueFrom.SecretKeyRef.Key != tc.user {
				t.Errorf("%s: ClickHouse DSN %q with password %+v, want user %s over TLS with its own password", who, dsn.Value, pw.ValueFrom, tc.user)
			}
			for _, f := range []string{"BNDMR_CLICKHOUSE_CA", "BNDMR_CLICKHOUSE_CERT", "BNDMR_CLICKHOUSE_KEY"} {
				e, _ := envValue(c, f)
				v, ok := mountOf(pod, c, e.Value)
				if !ok || v.Secret == nil || v.Secret.SecretName != "bndmr-clickhouse-client-tls" {
					t.Errorf("%s: %s=%q is not on the Secret bndmr-clickhouse-client-tls", who, f, e.Value)
					continue
				}
				if f == "BNDMR_CLICKHOUSE_CERT" && !slices.ContainsFunc(v.Secret.Items, func(it corev1.KeyToPath) bool {
					return it.Key == tc.user+".crt" && filepath.Join(filepath.Dir(e.Value), it.Path) == e.Value
				}) {
					t.Errorf("%s: the client certificate is not %s's", who, tc.user)
				}
			}
			v, ok := mountOf(pod, c, tc.path)
			switch {
			case !ok:
				t.Errorf("%s: %s is on no volume", who, tc.path)
			case tc.onClaim:
				if v.PersistentVolumeClaim == nil {
					t.Errorf("%s: %s is not on a persistent volume", who, tc.path)
				} else if _, ok := find[*corev1.PersistentVolumeClaim](objs, "PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName); !ok {
					t.Errorf("%s: claim %s not rendered", who, v.PersistentVolumeClaim.ClaimName)
				}
			default:
				// The operator's ConfigMap (docs/operations.md creates it).
				if v.ConfigMap == nil || v.ConfigMap.Name != "reference-data" {
					t.Errorf("%s: %s is not the ConfigMap reference-data", who, tc.path)
				}
			}
		}
	}
}

// TestCRLRefreshRBAC: the CronJob crl-refresh may read and patch the
// Secrets it refreshes, and nothing else: its service account is bound to
// one Role, whose one rule names exactly the Secrets of its ConfigMap; no
// other binding exists in the namespace; the pod mounts no Secret.
func TestCRLRefreshRBAC(t *testing.T) {
	for _, ov := range overlays(t) {
		objs := objects(t, ov)
		cj, c := cronJob(t, ov, "crl-refresh")
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		if pod.ServiceAccountName != "crl-refresh" || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
			t.Errorf("%s: crl-refresh runs as %q with token %v, want its own service account with a token", ov, pod.ServiceAccountName, pod.AutomountServiceAccountToken)
		}
		if !slices.Equal(c.Args, []string{"crl", "refresh"}) {
			t.Errorf("%s: crl-refresh runs %v", ov, c.Args)
		}
		for _, v := range pod.Volumes {
			if v.Secret != nil {
				t.Errorf("%s: crl-refresh mounts Secret %s", ov, v.Secret.SecretName)
			}
		}
		var secrets []string
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				continue
			}
			cm, ok := find[*corev1.ConfigMap](objs, "ConfigMap", ef.ConfigMapRef.Name)
			if !ok {
				t.Fatalf("%s: ConfigMap %s not rendered", ov, ef.ConfigMapRef.Name)
			}
			secrets = strings.Fields(cm.Data["BNDMR_CRL_SECRETS"])
			if len(strings.Fields(cm.Data["BNDMR_CRL_URLS"])) == 0 {
				t.Errorf("%s: no CRL URL", ov)
			}
		}
		if !slices.Equal(secrets, []string{"ingest-mssante-tls", "ack-mssante-tls"}) {
			t.Errorf("%s: crl-refresh updates %v, want the two MSSanté TLS Secrets", ov, secrets)
		}
		bindings := 0
		for _, o := range objs {
			switch v := o.Value.(type) {
			case *rbacv1.RoleBinding:
				bindings++
				if v.Name != "crl-refresh" || v.RoleRef.Kind != "Role" || v.RoleRef.Name != "crl-refresh" ||
					len(v.Subjects) != 1 || v.Subjects[0].Kind != "ServiceAccount" || v.Subjects[0].Name != "crl-refresh" {
					t.Errorf("%s: RoleBinding %s binds %v to %v", ov, v.Name, v.Subjects, v.RoleRef)
				}
			case *rbacv1.Role:
				if v.Name != "crl-refresh" || len(v.Rules) != 1 {
					t.Errorf("%s: Role %s with %d rules", ov, v.Name, len(v.Rules))
					continue
				}
				r := v.Rules[0]
				names := slices.Clone(r.ResourceNames)
				slices.Sort(names)
				want := slices.Clone(secrets)
				slices.Sort(want)
				if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"secrets"}) ||
					!slices.Equal(r.Verbs, []string{"get", "patch"}) || !slices.Equal(names, want) {
					t.Errorf("%s: Role crl-refresh allows %v %v on %v %v, want get, patch on secrets %v", ov, r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, want)
				}
			}
		}
		if bindings != 1 {
			t.Errorf("%s: %d RoleBindings, want crl-refresh's alone", ov, bindings)
		}
	}
}
