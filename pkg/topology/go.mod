module github.com/bndmr/hub/pkg/topology

go 1.26.8
