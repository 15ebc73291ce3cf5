// Package compat holds the end-to-end compatibility suite: synthetic mails
// (pkg/synth) go through the validator and the pseudonymisation as in the
// hub, are loaded through pkg/store into the ClickHouse 18.16 test server,
// copied into chDB (the version production runs), and every registered
// statement must give the same rows on both (pkg/chcompat). It lives in the
// services module because only it may import the pseudonymisation.
package compat
