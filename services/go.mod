module github.com/bndmr/hub/services

go 1.26.8

require (
	github.com/bndmr/hub/pkg v0.0.0
	github.com/bndmr/hub/pseudonymisation v0.0.0
	github.com/bndmr/hub/schemas v0.0.0
	golang.org/x/sync v0.25.0
)

replace (
	github.com/bndmr/hub/pkg => ../pkg
	github.com/bndmr/hub/pseudonymisation => ../pseudonymisation
	github.com/bndmr/hub/schemas => ../schemas
)
