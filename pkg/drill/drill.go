// Package drill reads what a restore must give back, as text to compare:
// the figures analysts and the ministry read from ClickHouse, and what each
// JetStream stream and consumer still holds. A restore drill (make
// restore-drill, services/internal/app's TestRestoreDrill) reads both on the
// source and on the restore; the texts must be equal.
package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/jsbackup"
	"github.com/bndmr/hub/pkg/store"
)

// Figures returns the documents per establishment, MR.1 and MR.2 over p and
// the epidemiology tables (small counts suppressed, as exported), one
// labelled JSON line each.
func Figures(ctx context.Context, st *store.Store, p indicators.Period) (string, error) {
	x := indicators.New(st)
	var b strings.Builder
	line := func(label string, v any) {
		data, _ := json.Marshal(v)
		fmt.Fprintf(&b, "%s %s\n", label, data)
	}
	docs, err := st.DocumentsPerEstablishment(ctx)
	if err != nil {
		return "", fmt.Errorf("documents per establishment: %w", err)
	}
	line("documents", docs)
	mr1, err := x.MR1(ctx, p, "")
	if err != nil {
		return "", fmt.Errorf("MR.1 over %s: %w", p, err)
	}
	line("MR.1", mr1)
	mr2, err := x.MR2(ctx, p, "")
	if err != nil {
		return "", fmt.Errorf("MR.2 over %s: %w", p, err)
	}
	line("MR.2", mr2)
	epi, err := x.Epidemiology(ctx, 0)
	if err != nil {
		return "", fmt.Errorf("epidemiology: %w", err)
	}
	line("epidemiology", epi)
	return b.String(), nil
}

// Pending returns the state of every stream and consumer (jsbackup.Format);
// with digest, a digest of every stream's messages too.
func Pending(ctx context.Context, js jetstream.JetStream, digest bool) (string, error) {
	st, err := jsbackup.Describe(ctx, js, digest)
	if err != nil {
		return "", err
	}
	return jsbackup.Format(st), nil
}

// Summary says in one line how much a figures text and a pending text
// hold: the drill prints it so that equal-but-empty cannot pass unseen.
func Summary(figures, pending string) string {
	var docs []store.EstablishmentCount
	for _, l := range strings.Split(figures, "\n") {
		if rest, ok := strings.CutPrefix(l, "documents "); ok {
			_ = json.Unmarshal([]byte(rest), &docs)
		}
	}
	var versions uint64
	for _, d := range docs {
		versions += d.Versions
	}
	var unhandled int
	for _, l := range strings.Split(pending, "\n") {
		var stream, rest string
		var n int
		if _, err := fmt.Sscanf(l, "consumer %s unhandled=%d %s", &stream, &n, &rest); err == nil {
			unhandled += n
		}
	}
	return fmt.Sprintf("%d establishments, %d document versions, %d messages still to handle by the consumers", len(docs), versions, unhandled)
}
