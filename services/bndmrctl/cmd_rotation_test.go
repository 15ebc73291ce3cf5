package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/store/storetest"
)

// TestRotationCommand: status, finish and forget on a real ClickHouse: a
// patient seen under the old key, then during the rotation, ends under the
// new key alone; one never seen again stays under the old key, as status
// says; forget deletes the links.
func TestRotationCommand(t *testing.T) {
	ctx := context.Background()
	st, dbDSN := storetest.Migrated(t, "test_rotation_cmd")
	rec := func(set string, v int, key, traits string, prev *sdmmr.PseudonymSet) events.Record {
		r := events.Record{V: events.RecordV, MailID: set, FINESS: "750000010", SetID: set, VersionNumber: v, KeyID: key,
			EffectiveTime: "20261015", ReceivedAt: time.Now(), DocumentKey: "d-" + key + set, PatientTraitsPseudonym: traits}
		if prev != nil {
			r.PreviousKeys = []sdmmr.PseudonymSet{*prev}
		}
		return r
	}
	recs := []events.Record{
		rec("s1", 1, "old", "p1-old", nil),
		rec("s2", 1, "old", "p2-old", nil),
		rec("s1", 2, "new", "p1-new", &sdmmr.PseudonymSet{KeyID: "old", DocumentKey: "d-olds1", PatientTraitsPseudonym: "p1-old",
			PatientINSPseudonym: "i1-old", IPPKeys: []string{"ipp1-old"}}),
	}
	recs[0].PatientINSPseudonym, recs[0].IPPKeys = "i1-old", []string{"ipp1-old"}
	recs[2].PatientINSPseudonym, recs[2].IPPKeys = "i1-new", []string{"ipp1-new"}
	if err := st.InsertDocuments(ctx, recs); err != nil {
		t.Fatal(err)
	}
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if got := cmdRotation(ctx, append([]string{"--clickhouse", dbDSN}, args...), &out, &errOut); got != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, got, want, out.String(), errOut.String())
		}
		return out.String()
	}
	// During the rotation: every document under the old key, p1 linked.
	if out := run(0, "status"); !hasRow(out, "old", "3", "2", "1") {
		t.Errorf("status during the rotation:\n%s", out)
	}
	out := run(0, "finish", "--from", "old", "--to", "new")
	if !strings.Contains(out, "ins 1, ipp 1, patient 1, traits 1") || !strings.Contains(out, "left under old: 1 documents of 1 patients") ||
		!hasRow(out, "new", "2", "1", "0") {
		t.Errorf("finish:\n%s", out)
	}
	var keys []string
	rows, err := st.Conn().Query(ctx, "SELECT DISTINCT patient_key FROM documents ORDER BY patient_key")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		keys = append(keys, k)
	}
	rows.Close()
	if strings.Join(keys, " ") != "p1-new p2-old" {
		t.Errorf("patient keys after finish: %v, want p1-new p2-old", keys)
	}
	var ins, ipp string
	if err := st.Conn().QueryRow(ctx, "SELECT arrayStringConcat(groupUniqArray(patient_ins_pseudonym), ' '), arrayStringConcat(groupUniqArray(arrayJoin(ipp_keys)), ' ') FROM patients WHERE set_id = 's1'").Scan(&ins, &ipp); err != nil {
		t.Fatal(err)
	}
	if ins != "i1-new" || ipp != "ipp1-new" {
		t.Errorf("s1 after finish: INS pseudonyms %q, IPP keys %q, want i1-new and ipp1-new alone", ins, ipp)
	}
	out = run(0, "forget", "--from", "old", "--to", "new")
	if !strings.Contains(out, "links old -> new deleted") {
		t.Errorf("forget:\n%s", out)
	}
	if out := run(0, "finish", "--from", "old", "--to", "new"); !strings.Contains(out, "0 mutations") {
		t.Errorf("finish after forget:\n%s", out)
	}
	run(2, "finish", "--from", "old")
	run(2, "nonsense")
}

// hasRow: out has a line whose fields are exactly fields.
func hasRow(out string, fields ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
