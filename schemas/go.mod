module github.com/bndmr/hub/schemas

go 1.26.8
