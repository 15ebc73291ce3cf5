// Package topology holds the end-to-end test of the production topology on
// one machine (scripts/up-topology.sh, `make test-topology`): the same mails
// through the all-in-one hub and through the services started from the
// prod overlay must give the same ClickHouse keys and the same MDNs.
package topology
