package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
)

// TestCommandsExitStatus runs the operator commands as an operator would and
// checks the exit status each promises.
func TestCommandsExitStatus(t *testing.T) {
	kitDir, err := kit.Dir()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	example := filepath.Join(kitDir, "examples/sdm-mr/SDM-MR_2024.01_nouveau-ne.xml")
	garbage := filepath.Join(tmp, "garbage.eml")
	if err := os.WriteFile(garbage, []byte("this is not a mail\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(tmp, "key.json")
	mails := filepath.Join(tmp, "mails")
	docs := filepath.Join(tmp, "docs")
	for _, tc := range []ctlCase{
		{"no command", nil, 2, "", "usage: bndmrctl COMMAND"},
		{"unknown command", []string{"frobnicate"}, 2, "", `bndmrctl: unknown command "frobnicate"`},
		{"validate an official example", []string{"validate", "--kit", kitDir, example}, 0, "valid    SDM-MR_2024.01_nouveau-ne.xml (SDM-MR_2024.01)\n\n1 of 1 documents valid", ""},
		{"validate a document of another type", []string{"validate", "--kit", kitDir, filepath.Join(kitDir, "examples/other-cda/VAC_2023.01.xml")}, 1, "REFUSED  VAC_2023.01.xml: not an SDM-MR document", ""},
		{"validate against a missing kit", []string{"validate", "--kit", filepath.Join(tmp, "nokit"), example}, 2, "", "nokit is not a CI-SIS kit folder"},
		{"validate an invalid mutant as jsonl", []string{"validate", "--kit", kitDir, "--jsonl", "--profile", "SDM-MR_2024.01",
			filepath.Join(kitDir, "conformance/docs/SDM-MR_2024.01_nouveau-ne__m1_002.xml")}, 1, `{"doc":"SDM-MR_2024.01_nouveau-ne__m1_002.xml","valid":false,"xsd_valid":true,`, ""},
		{"gen without --out", []string{"gen", "--count", "2"}, 2, "", "usage: bndmrctl gen --seed N"},
		// Help, without dialling ClickHouse (an address nothing answers on).
		{"export -h", []string{"export", "-h", "--clickhouse", "clickhouse://127.0.0.1:1/x"}, 0, "", "usage: bndmrctl export dgos|mr2"},
		{"export dgos -h", []string{"export", "dgos", "-h"}, 0, "", "usage: bndmrctl export dgos|mr2"},
		{"export of an unknown kind", []string{"export", "frobnicate", "--clickhouse", "clickhouse://127.0.0.1:1/x"}, 2, "", `bndmrctl export: unknown export "frobnicate"`},
		{"gen", []string{"gen", "--kit", kitDir, "--seed", "1", "--count", "3", "--out", mails}, 0, "gen: 3 mails in " + mails + ", 3 documents to accept", ""},
		{"unpack generated mails", []string{"unpack", "--jsonl", filepath.Join(mails, "mail-000001.eml"), filepath.Join(mails, "mail-000002.eml")}, 0, `"message_id":"<1.1.1.2.250.1.213.1.1.1.30.8.1.1@chu-reunion.mssante.fr>"`, ""},
		{"unpack garbage", []string{"unpack", garbage}, 1, "REJECTED unreadable_mime: the mail's header cannot be read", ""},
		{"unpack the documents into a folder", []string{"unpack", "--out", docs, filepath.Join(mails, "mail-000001.eml"), filepath.Join(mails, "mail-000002.eml")}, 0, "document 1: IHE_XDM/SUBSET01/DOC00001.XML (xdm, ", ""},
		{"validate the documents unpacked", []string{"validate", "--kit", kitDir, filepath.Join(docs, "mail-000001-1.xml"), filepath.Join(docs, "mail-000002-1.xml")}, 0, "valid    mail-000002-1.xml (SDM-MR_2024.01)\n\n2 of 2 documents valid", ""},
		{"keygen", []string{"keygen", "--out", key, "--id", "k1"}, 0, "", `bndmrctl keygen: wrote key "k1" to ` + key},
		{"keygen refuses to overwrite", []string{"keygen", "--out", key}, 1, "", "already exists: a key file is never overwritten"},
		{"extract an official example", []string{"extract", "--kit", kitDir, example}, 0, `"set_id": "1.2.250.1.213.1.1.1.30.2024.1",`, ""},
		{"extract and pseudonymise", []string{"extract", "--kit", kitDir, "--key", key, "--jsonl", example}, 0, `"key_id":"k1","document_key":"`, ""},
		{"extract a document of another type", []string{"extract", "--kit", kitDir, filepath.Join(kitDir, "examples/other-cda/VAC_2023.01.xml")}, 1, "", "not an SDM-MR document: the templateId 1.2.250.1.213.1.1.1.30 is missing\nbndmrctl extract: 1 of 1 documents could not be extracted"},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, context.Background()) })
	}
}

// ctl runs bndmrctl with args as an operator would and returns its exit
// status and what it printed on stdout and on stderr.
func ctl(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// ctlCase is one run of bndmrctl: its arguments, the exit status it must
// give, and what its stdout and stderr must hold (out, errOut: substrings;
// empty, not asked).
type ctlCase struct {
	name        string
	args        []string
	want        int
	out, errOut string
}

// run runs the case and returns what the command printed.
func (c ctlCase) run(t *testing.T, ctx context.Context) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := ctl(ctx, c.args...)
	if os.Getenv("BNDMRCTL_TEST_DUMP") != "" {
		t.Logf("DUMP %v => %d\n--stdout--\n%.400s\n--stderr--\n%.400s", c.args, code, stdout, stderr)
	}
	if code != c.want || !strings.Contains(stdout, c.out) || !strings.Contains(stderr, c.errOut) {
		t.Fatalf("bndmrctl %v exited %d (want %d)\n--- stdout (want %q)\n%.2000s\n--- stderr (want %q)\n%.2000s",
			c.args, code, c.want, c.out, stdout, c.errOut, stderr)
	}
	return stdout, stderr
}
