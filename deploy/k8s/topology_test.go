package k8s_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bndmr/hub/deploy/k8s/render"
)

// configMapValue returns key of the generated ConfigMap whose name starts
// with name- (kustomize appends a content hash).
func configMapValue(t *testing.T, objs []render.Object, name, key string) string {
	t.Helper()
	for _, o := range objs {
		if cm, ok := o.Value.(*corev1.ConfigMap); ok && strings.HasPrefix(cm.Name, name+"-") {
			return cm.Data[key]
		}
	}
	t.Fatalf("ConfigMap %s not rendered", name)
	return ""
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func TestTopology(t *testing.T) {
	for _, tc := range []struct {
		overlay        string
		natsReplicas   int32
		streamReplicas string
		chShards       []string // StatefulSets of ClickHouse
		chReplicas     int32
		keeper         int32
		validatorHPA   bool
	}{
		{"dev", 1, "1", []string{"clickhouse-shard0"}, 1, 0, false},
		{"prod", 3, "3", []string{"clickhouse-shard0", "clickhouse-shard1"}, 2, 3, true},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			objs := objects(t, tc.overlay)
			nats, ok := find[*appsv1.StatefulSet](objs, "StatefulSet", "nats")
			if !ok {
				t.Fatal("StatefulSet/nats not rendered")
			}
			if got := replicas(nats.Spec.Replicas); got != tc.natsReplicas {
				t.Errorf("StatefulSet/nats: %d replicas, want %d", got, tc.natsReplicas)
			}
			if len(nats.Spec.VolumeClaimTemplates) == 0 {
				t.Error("StatefulSet/nats: no persistent volume")
			}
			if got := configMapValue(t, objs, "bndmr-common", "BNDMR_NATS_REPLICAS"); got != tc.streamReplicas {
				t.Errorf("bndmr-common BNDMR_NATS_REPLICAS=%q, want %q", got, tc.streamReplicas)
			}
			conf := configMapValue(t, objs, "nats", "nats.conf")
			if clustered := strings.Contains(conf, "cluster {"); clustered != (tc.natsReplicas > 1) {
				t.Errorf("nats.conf cluster block present=%v with %d servers", clustered, tc.natsReplicas)
			}
			// Every service reads the common settings, so the stream replicas.
			for _, s := range hubServices {
				d, ok := find[*appsv1.Deployment](objs, "Deployment", s)
				if !ok {
					t.Errorf("Deployment/%s not rendered", s)
					continue
				}
				if !slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].EnvFrom, func(e corev1.EnvFromSource) bool {
					return e.ConfigMapRef != nil && strings.HasPrefix(e.ConfigMapRef.Name, "bndmr-common-")
				}) {
					t.Errorf("Deployment/%s does not read bndmr-common", s)
				}
			}
			var chSets []string
			for _, w := range workloads(objs) {
				if w.pod.Labels["app.kubernetes.io/name"] == "clickhouse" {
					chSets = append(chSets, w.obj.Name)
					if got := replicas(w.replicas); got != tc.chReplicas {
						t.Errorf("%s: %d replicas, want %d", w.obj, got, tc.chReplicas)
					}
				}
			}
			slices.Sort(chSets)
			if !slices.Equal(chSets, tc.chShards) {
				t.Errorf("ClickHouse StatefulSets %v, want %v", chSets, tc.chShards)
			}
			keeper, hasKeeper := find[*appsv1.StatefulSet](objs, "StatefulSet", "clickhouse-keeper")
			if tc.keeper == 0 && hasKeeper || tc.keeper > 0 && (!hasKeeper || replicas(keeper.Spec.Replicas) != tc.keeper) {
				t.Errorf("ClickHouse Keeper present=%v, want %d servers", hasKeeper, tc.keeper)
			}
			if tc.keeper > 0 {
				xml := configMapValue(t, objs, "clickhouse", "bndmr-server.xml")
				for i := range tc.keeper {
					host := fmt.Sprintf("clickhouse-keeper-%d.clickhouse-keeper-headless", i)
					if !strings.Contains(xml, host) {
						t.Errorf("ClickHouse config does not name Keeper %s", host)
					}
				}
				for _, s := range tc.chShards {
					for i := range tc.chReplicas {
						host := fmt.Sprintf("%s-%d.clickhouse-headless", s, i)
						if !strings.Contains(xml, host) {
							t.Errorf("remote_servers does not name %s", host)
						}
					}
				}
			}
			hpa, hasHPA := find[*autoscalingv2.HorizontalPodAutoscaler](objs, "HorizontalPodAutoscaler", "validator")
			if hasHPA != tc.validatorHPA {
				t.Errorf("validator HPA present=%v, want %v", hasHPA, tc.validatorHPA)
			}
			if hasHPA {
				if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != "validator" {
					t.Errorf("HPA targets %s/%s", hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name)
				}
				if d, _ := find[*appsv1.Deployment](objs, "Deployment", "validator"); d != nil && d.Spec.Replicas != nil {
					t.Error("Deployment/validator sets replicas: every apply would fight the HPA")
				}
			}
		})
	}
}

// TestProdAvailability: in prod every workload of more than one pod has a
// PodDisruptionBudget that selects its pods, and the quorum-holding
// StatefulSets never put two pods on one node.
func TestProdAvailability(t *testing.T) {
	objs := objects(t, "prod")
	var pdbs []*policyv1.PodDisruptionBudget
	for _, o := range objs {
		if p, ok := o.Value.(*policyv1.PodDisruptionBudget); ok {
			pdbs = append(pdbs, p)
		}
	}
	hpaMin := map[string]int32{}
	for _, o := range objs {
		if h, ok := o.Value.(*autoscalingv2.HorizontalPodAutoscaler); ok && h.Spec.MinReplicas != nil {
			hpaMin[h.Spec.ScaleTargetRef.Name] = *h.Spec.MinReplicas
		}
	}
	for _, w := range workloads(objs) {
		if !w.longRunning {
			continue
		}
		n := replicas(w.replicas)
		if m, ok := hpaMin[w.obj.Name]; ok {
			n = m
		}
		if n < 2 {
			continue
		}
		covered := slices.ContainsFunc(pdbs, func(p *policyv1.PodDisruptionBudget) bool {
			return p.Spec.Selector != nil && selects(*p.Spec.Selector, w.pod.Labels)
		})
		if !covered {
			t.Errorf("%s: %d pods and no PodDisruptionBudget", w.obj, n)
		}
		aff := w.pod.Spec.Affinity
		if aff == nil || aff.PodAntiAffinity == nil {
			t.Errorf("%s: %d pods and no pod anti-affinity", w.obj, n)
			continue
		}
		if w.obj.Kind == "StatefulSet" {
			if !slices.ContainsFunc(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, func(term corev1.PodAffinityTerm) bool {
				return term.TopologyKey == "kubernetes.io/hostname" && term.LabelSelector != nil && selects(*term.LabelSelector, w.pod.Labels)
			}) {
				t.Errorf("%s: replicas may share a node (no required anti-affinity on kubernetes.io/hostname)", w.obj)
			}
		}
	}
}

// TestClickHouseShardsAlike: shard 1 is a hand-kept copy of shard 0 (see
// overlays/prod/clickhouse-shard1.yaml); only the shard number may differ.
func TestClickHouseShardsAlike(t *testing.T) {
	objs := objects(t, "prod")
	s0, ok0 := find[*appsv1.StatefulSet](objs, "StatefulSet", "clickhouse-shard0")
	s1, ok1 := find[*appsv1.StatefulSet](objs, "StatefulSet", "clickhouse-shard1")
	if !ok0 || !ok1 {
		t.Fatal("ClickHouse shard StatefulSets not rendered")
	}
	norm := func(s *appsv1.StatefulSet, shard string) appsv1.StatefulSetSpec {
		spec := *s.Spec.DeepCopy()
		sel := func(ls *metav1.LabelSelector) {
			if ls != nil && ls.MatchLabels["bndmr/clickhouse-shard"] == shard {
				ls.MatchLabels["bndmr/clickhouse-shard"] = "N"
			}
		}
		sel(spec.Selector)
		spec.Template.Labels["bndmr/clickhouse-shard"] = "N"
		if a := spec.Template.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
			for i := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
				sel(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i].LabelSelector)
			}
		}
		for i, e := range spec.Template.Spec.Containers[0].Env {
			if e.Name == "CLICKHOUSE_SHARD" {
				if e.Value != shard {
					t.Errorf("StatefulSet/clickhouse-shard%s: CLICKHOUSE_SHARD=%q", shard, e.Value)
				}
				spec.Template.Spec.Containers[0].Env[i].Value = "N"
			}
		}
		return spec
	}
	if a, b := norm(s0, "0"), norm(s1, "1"); !reflect.DeepEqual(a, b) {
		t.Error("StatefulSet/clickhouse-shard1 differs from clickhouse-shard0 beyond the shard number: update overlays/prod/clickhouse-shard1.yaml from base/clickhouse/clickhouse.yaml")
	}
}
