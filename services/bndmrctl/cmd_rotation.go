package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// cmdRotation shows and ends a key rotation in the warehouse
// (docs/operations.md, "Key rotation").
func cmdRotation(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rotation", `usage: bndmrctl rotation [flags] status
       bndmrctl rotation [flags] finish --from OLD_KEY_ID --to NEW_KEY_ID
       bndmrctl rotation [flags] forget --from OLD_KEY_ID --to NEW_KEY_ID

status  per key id: the documents and patients stored under it, and how many of
        those patients have a link to another key (pseudonym_links)
finish  rewrite every pseudonym of OLD that has a link into its NEW value, in every
        table (ALTER UPDATE), and wait for the mutations; run it once the
        pseudonymisation service holds NEW alone and the loader has drained
        sdmmr.record. Running it again is harmless.
forget  delete the links OLD -> NEW (pseudonym_links) once finish has run for
        the last time: kept, they let whoever holds the old key follow a
        patient under the new one`, stderr)
	ch := clickhouseFlag(fs)
	// With a cluster, the mutations run on each shard's local tables, and every
	// replica is waited for.
	cluster := clusterFlag(fs)
	from := fs.String("from", "", "finish: the key id the warehouse held before the rotation")
	to := fs.String("to", "", "finish: the new primary key id")
	sub, _, ok := parseSubcommand(fs, args, map[string]int{"status": 0, "finish": 0, "forget": 0})
	if !ok {
		return 2
	}
	if sub != "status" && (*from == "" || *to == "" || *from == *to) {
		fmt.Fprintf(stderr, "bndmrctl rotation %s: --from and --to name the old and the new key ids, and differ\n", sub)
		return 2
	}
	st, err := ch.open(ctx)
	if err != nil {
		return fail(stderr, "rotation", err)
	}
	defer st.Close()
	if sub == "finish" {
		rep, err := st.FinishRotation(ctx, *from, *to, cluster.Cluster)
		if err != nil {
			fmt.Fprintln(stderr, "bndmrctl rotation finish:", err)
			return 1
		}
		var kinds []string
		for k, n := range rep.Links {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(kinds)
		fmt.Fprintf(stdout, "links %s -> %s: %s; %d mutations in %s\n", *from, *to, strings.Join(kinds, ", "), rep.Mutations, rep.FinishedIn.Round(1e6))
		fmt.Fprintf(stdout, "left under %s: %d documents of %d patients never seen during the rotation\n", *from, rep.StillOld, rep.Unlinked)
	}
	if sub == "forget" {
		if err := st.ForgetLinks(ctx, *from, *to, cluster.Cluster); err != nil {
			fmt.Fprintln(stderr, "bndmrctl rotation forget:", err)
			return 1
		}
		fmt.Fprintf(stdout, "links %s -> %s deleted\n", *from, *to)
	}
	keys, err := st.RotationStatus(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "bndmrctl rotation:", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY_ID\tDOCUMENTS\tPATIENTS\tLINKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", k.KeyID, k.Documents, k.Patients, k.Linked)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}
