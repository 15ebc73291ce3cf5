module github.com/bndmr/hub/tools/mutate

go 1.26.8
