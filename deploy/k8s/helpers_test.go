package k8s_test

import (
	"path/filepath"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/bndmr/hub/deploy/k8s/render"
)

// rendered builds each overlay once per test binary: kustomize is the slow part.
var (
	renderMu    sync.Mutex
	renderCache = map[string][]render.Object{}
)

func overlays(t *testing.T) []string {
	t.Helper()
	dirs, err := render.Overlays(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(d))
	}
	return names
}

func objects(t *testing.T, overlay string) []render.Object {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if objs, ok := renderCache[overlay]; ok {
		return objs
	}
	y, err := render.YAML(filepath.Join("overlays", overlay))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Decode(y)
	if err != nil {
		t.Fatalf("overlay %s: %v", overlay, err)
	}
	renderCache[overlay] = objs
	return objs
}

// workload is an object that runs pods.
type workload struct {
	obj         render.Object
	pod         *corev1.PodTemplateSpec
	replicas    *int32
	longRunning bool // Deployments and StatefulSets; Jobs end
}

func workloads(objs []render.Object) []workload {
	var ws []workload
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			ws = append(ws, workload{o, &v.Spec.Template, v.Spec.Replicas, true})
		case *appsv1.StatefulSet:
			ws = append(ws, workload{o, &v.Spec.Template, v.Spec.Replicas, true})
		case *batchv1.Job:
			ws = append(ws, workload{o, &v.Spec.Template, nil, false})
		case *batchv1.CronJob:
			ws = append(ws, workload{o, &v.Spec.JobTemplate.Spec.Template, nil, false})
		}
	}
	return ws
}

func find[T any](objs []render.Object, kind, name string) (T, bool) {
	var zero T
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			v, ok := o.Value.(T)
			return v, ok
		}
	}
	return zero, false
}
