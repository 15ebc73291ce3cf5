// Package cisistest gives tests the CI-SIS kit and its engine, loaded once
// per test binary (about 0.3 s a load). Test support: only _test.go files
// import it; pkg/cisis's own tests have their own.
package cisistest

import (
	"context"
	"sync"
	"testing"

	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/kit"
)

var (
	once   sync.Once
	engine *cisis.Engine
	err    error
)

// KitDir is the folder of the CI-SIS kit (CISIS_KIT, or found beside the
// repository); without it the test fails.
func KitDir(t testing.TB) string {
	t.Helper()
	dir, err := kit.Dir()
	if err != nil {
		t.Fatalf("the CI-SIS kit is needed by this test: %v", err)
	}
	return dir
}

// Engine is the engine of KitDir's kit, shared by the tests of the binary:
// do not close it.
func Engine(t testing.TB) *cisis.Engine {
	t.Helper()
	dir := KitDir(t)
	once.Do(func() { engine, err = cisis.Load(context.Background(), dir) })
	if err != nil {
		t.Fatalf("loading the CI-SIS engine: %v", err)
	}
	return engine
}
