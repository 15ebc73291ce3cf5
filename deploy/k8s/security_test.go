package k8s_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/bndmr/hub/deploy/k8s/render"
)

// hubServices are the hub's own services: each is a Deployment whose pods
// serve /healthz, /readyz and /metrics on the port named http.
var hubServices = []string{"ingest", "validator", "pseudonymisation", "loader", "ack", "indicators"}

// apiClients are the workloads that talk to the Kubernetes API server, and
// so get a service account token: the CRL refresh, which patches two Secrets.
var apiClients = map[string]bool{"CronJob/crl-refresh": true}

// podRule checks one workload's pod template.
type podRule struct {
	name  string
	check func(w workload) error
}

// containers returns the init containers and the containers of a pod.
func containers(p *corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(p.InitContainers), p.Containers...)
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

var podRules = []podRule{
	{"pod runs as non-root", func(w workload) error {
		sc := w.pod.Spec.SecurityContext
		podNonRoot := sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot
		if sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			return errors.New("pod runAsUser is 0")
		}
		for _, c := range containers(&w.pod.Spec) {
			csc := c.SecurityContext
			if csc != nil && csc.RunAsUser != nil && *csc.RunAsUser == 0 {
				return fmt.Errorf("container %s: runAsUser is 0", c.Name)
			}
			if csc != nil && csc.RunAsNonRoot != nil && !*csc.RunAsNonRoot {
				return fmt.Errorf("container %s: runAsNonRoot is false", c.Name)
			}
			if !podNonRoot && (csc == nil || csc.RunAsNonRoot == nil || !*csc.RunAsNonRoot) {
				return fmt.Errorf("container %s: runAsNonRoot not set (nor on the pod)", c.Name)
			}
		}
		return nil
	}},
	{"seccomp RuntimeDefault", func(w workload) error {
		sc := w.pod.Spec.SecurityContext
		if sc != nil && sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault {
			for _, c := range containers(&w.pod.Spec) {
				if p := c.SecurityContext; p != nil && p.SeccompProfile != nil && p.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					return fmt.Errorf("container %s overrides seccomp with %s", c.Name, p.SeccompProfile.Type)
				}
			}
			return nil
		}
		return errors.New("pod securityContext.seccompProfile.type is not RuntimeDefault")
	}},
	{"no host namespaces, no service account token", func(w workload) error {
		s := w.pod.Spec
		if s.HostNetwork || s.HostPID || s.HostIPC {
			return errors.New("pod uses a host namespace")
		}
		if apiClients[w.obj.String()] {
			return nil // TestCRLRefreshRBAC checks what its token may do
		}
		if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
			return errors.New("automountServiceAccountToken is not false: no pod here talks to the API server")
		}
		return nil
	}},
	{"read-only root filesystem", func(w workload) error {
		for _, c := range containers(&w.pod.Spec) {
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				return fmt.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
			}
		}
		return nil
	}},
	{"no privilege, all capabilities dropped", func(w workload) error {
		for _, c := range containers(&w.pod.Spec) {
			sc := c.SecurityContext
			if sc == nil {
				return fmt.Errorf("container %s: no securityContext", c.Name)
			}
			if sc.Privileged != nil && *sc.Privileged {
				return fmt.Errorf("container %s: privileged", c.Name)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				return fmt.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				return fmt.Errorf("container %s: capabilities do not drop ALL", c.Name)
			}
			if len(sc.Capabilities.Add) > 0 {
				return fmt.Errorf("container %s: adds capabilities %v", c.Name, sc.Capabilities.Add)
			}
		}
		return nil
	}},
	{"resource requests and limits", func(w workload) error {
		for _, c := range containers(&w.pod.Spec) {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[r]
				lim, okLim := c.Resources.Limits[r]
				if !okReq || !okLim {
					return fmt.Errorf("container %s: %s request or limit missing", c.Name, r)
				}
				if req.Cmp(lim) > 0 {
					return fmt.Errorf("container %s: %s request %s above its limit %s", c.Name, r, req.String(), lim.String())
				}
				if lim.Cmp(resource.MustParse("0")) <= 0 {
					return fmt.Errorf("container %s: %s limit is zero", c.Name, r)
				}
			}
		}
		return nil
	}},
	{"liveness and readiness probes", func(w workload) error {
		if !w.longRunning {
			return nil
		}
		for _, c := range w.pod.Spec.Containers {
			if c.LivenessProbe == nil || c.ReadinessProbe == nil {
				return fmt.Errorf("container %s: liveness or readiness probe missing", c.Name)
			}
		}
		return nil
	}},
	{"hub services probe /healthz and /readyz on http", func(w workload) error {
		name := w.pod.Labels["app.kubernetes.io/name"]
		if !slices.Contains(hubServices, name) {
			return nil
		}
		for _, c := range w.pod.Spec.Containers {
			if err := httpProbe(c.LivenessProbe, "/healthz"); err != nil {
				return fmt.Errorf("container %s liveness: %w", c.Name, err)
			}
			if err := httpProbe(c.ReadinessProbe, "/readyz"); err != nil {
				return fmt.Errorf("container %s readiness: %w", c.Name, err)
			}
		}
		return nil
	}},
	{"env references defined before use", func(w workload) error {
		for _, c := range containers(&w.pod.Spec) {
			seen := map[string]bool{}
			for _, e := range c.Env {
				for _, m := range envRef.FindAllStringSubmatch(e.Value, -1) {
					if !seen[m[1]] {
						return fmt.Errorf("container %s: %s uses $(%s) before it is defined: Kubernetes leaves it unexpanded", c.Name, e.Name, m[1])
					}
				}
				seen[e.Name] = true
			}
		}
		return nil
	}},
	{"images pinned to a version", func(w workload) error {
		for _, c := range containers(&w.pod.Spec) {
			ref := c.Image
			if i := strings.LastIndex(ref, "/"); i >= 0 {
				ref = ref[i+1:]
			}
			_, tag, hasTag := strings.Cut(ref, ":")
			if !strings.Contains(c.Image, "@sha256:") && (!hasTag || tag == "latest") {
				return fmt.Errorf("container %s: image %q has no version", c.Name, c.Image)
			}
		}
		return nil
	}},
	{"secrets only by reference", func(w workload) error {
		for _, c := range containers(&w.pod.Spec) {
			for _, e := range c.Env {
				if strings.Contains(strings.ToUpper(e.Name), "PASSWORD") && e.ValueFrom == nil {
					return fmt.Errorf("container %s: %s carries a literal value", c.Name, e.Name)
				}
			}
		}
		return nil
	}},
}

func httpProbe(p *corev1.Probe, path string) error {
	if p == nil || p.HTTPGet == nil {
		return errors.New("no HTTP probe")
	}
	if p.HTTPGet.Path != path {
		return fmt.Errorf("path %q, want %q", p.HTTPGet.Path, path)
	}
	if p.HTTPGet.Port.String() != "http" {
		return fmt.Errorf("port %q, want the port named http", p.HTTPGet.Port.String())
	}
	return nil
}

// TestOverlaysDecodeStrictly renders every overlay and decodes each object
// into its Kubernetes type with unknown fields refused (render.Decode).
func TestOverlaysDecodeStrictly(t *testing.T) {
	for _, ov := range overlays(t) {
		t.Run(ov, func(t *testing.T) {
			objs := objects(t, ov)
			if len(objs) == 0 {
				t.Fatal("rendered nothing")
			}
			seen := map[string]bool{}
			for _, o := range objs {
				if seen[o.String()] {
					t.Errorf("%s rendered twice", o)
				}
				seen[o.String()] = true
			}
		})
	}
}

// TestPodSecurity checks every rule on every workload of every overlay; a
// failure names the overlay, the rule and the object.
func TestPodSecurity(t *testing.T) {
	for _, ov := range overlays(t) {
		ws := workloads(objects(t, ov))
		if len(ws) == 0 {
			t.Fatalf("%s: no workload rendered", ov)
		}
		for _, r := range podRules {
			for _, w := range ws {
				if err := r.check(w); err != nil {
					t.Errorf("%s: %s: rule %q: %v", ov, w.obj, r.name, err)
				}
			}
		}
	}
}

// TestPodRulesCatchViolations breaks a compliant Deployment one way at a
// time: each rule must notice.
func TestPodRulesCatchViolations(t *testing.T) {
	objs := objects(t, "dev")
	base, ok := find[*appsv1.Deployment](objs, "Deployment", "validator")
	if !ok {
		t.Fatal("Deployment/validator not rendered")
	}
	for _, tc := range []struct {
		rule    string
		breakIt func(s *corev1.PodSpec)
	}{
		{"pod runs as non-root", func(s *corev1.PodSpec) { s.SecurityContext.RunAsUser = new(int64) }},
		{"seccomp RuntimeDefault", func(s *corev1.PodSpec) { s.SecurityContext.SeccompProfile = nil }},
		{"no host namespaces, no service account token", func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = nil }},
		{"read-only root filesystem", func(s *corev1.PodSpec) { *s.InitContainers[0].SecurityContext.ReadOnlyRootFilesystem = false }},
		{"no privilege, all capabilities dropped", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}},
		{"resource requests and limits", func(s *corev1.PodSpec) { delete(s.Containers[0].Resources.Limits, corev1.ResourceMemory) }},
		{"liveness and readiness probes", func(s *corev1.PodSpec) { s.Containers[0].ReadinessProbe = nil }},
		{"hub services probe /healthz and /readyz on http", func(s *corev1.PodSpec) { s.Containers[0].LivenessProbe.HTTPGet.Path = "/" }},
		{"env references defined before use", func(s *corev1.PodSpec) {
			s.Containers[0].Env = append([]corev1.EnvVar{{Name: "X", Value: "$(LATER)"}}, s.Containers[0].Env...)
			s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "LATER", Value: "v"})
		}},
		{"images pinned to a version", func(s *corev1.PodSpec) { s.InitContainers[0].Image = "bndmr/cisis-kit" }},
		{"secrets only by reference", func(s *corev1.PodSpec) {
			s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "BNDMR_NATS_PASSWORD", Value: "hunter2"})
			s.Containers[0].Env = slices.DeleteFunc(s.Containers[0].Env, func(e corev1.EnvVar) bool { return e.ValueFrom != nil && e.Name == "BNDMR_NATS_PASSWORD" })
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			d := base.DeepCopy()
			tc.breakIt(&d.Spec.Template.Spec)
			w := workload{render.Object{Kind: "Deployment", Name: "validator", Value: d}, &d.Spec.Template, d.Spec.Replicas, true}
			var found bool
			for _, r := range podRules {
				if r.name != tc.rule {
					continue
				}
				found = true
				if err := r.check(w); err == nil {
					t.Errorf("rule %q passed a broken Deployment", r.name)
				}
			}
			if !found {
				t.Fatalf("no rule named %q", tc.rule)
			}
		})
	}
}

// TestNamespaceEnforcesRestricted: the API server itself then refuses a pod
// that breaks the rules above.
func TestNamespaceEnforcesRestricted(t *testing.T) {
	for _, ov := range overlays(t) {
		objs := objects(t, ov)
		ns, ok := find[*corev1.Namespace](objs, "Namespace", "bndmr")
		if !ok {
			t.Errorf("%s: Namespace/bndmr not rendered", ov)
			continue
		}
		if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
			t.Errorf("%s: Namespace/bndmr enforces %q, want restricted", ov, got)
		}
		for _, o := range objs {
			if o.Kind == "Namespace" {
				continue
			}
			if ns := namespaceOf(o); ns != "bndmr" {
				t.Errorf("%s: %s is in namespace %q, want bndmr", ov, o, ns)
			}
		}
	}
}

func namespaceOf(o render.Object) string {
	type namespaced interface{ GetNamespace() string }
	if n, ok := o.Value.(namespaced); ok {
		return n.GetNamespace()
	}
	return ""
}
