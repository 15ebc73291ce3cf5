module github.com/bndmr/hub/services

go 1.26.8

require github.com/bndmr/hub/pkg v0.0.0

replace github.com/bndmr/hub/pkg => ../pkg

require github.com/bndmr/hub/schemas v0.0.0

replace github.com/bndmr/hub/schemas => ../schemas

require github.com/bndmr/hub/pseudonymisation v0.0.0

replace github.com/bndmr/hub/pseudonymisation => ../pseudonymisation
