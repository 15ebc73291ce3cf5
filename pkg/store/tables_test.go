package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/sdmmr"
)

func yes() *bool { b := true; return &b }

// fullRecord carries one entry of every part of sdmmr.record.
func fullRecord(set string, v int, opposition bool) events.Record {
	n := 2
	return events.Record{V: events.RecordV, MailID: "m-" + set, FINESS: "750000010", SetID: set, VersionNumber: v,
		EffectiveTime: "20261015120000+0200", ReceivedAt: time.Now(), DocumentKey: "k", KeyID: "key1",
		PatientINSPseudonym: "ins-" + set, PatientTraitsPseudonym: "tr-" + set, Sex: "F", BirthYearMonth: "2001-03",
		ResidenceDepartement: "75", BirthplaceDepartement: "69", Deceased: yes(), DeathYearMonth: "2026-09",
		Opposition: opposition, Consents: []string{"GEN-317"}, IPPKeys: []string{"ipp1"},
		File:         &sdmmr.RecordFile{Key: "f", Created: "20200101"},
		CareEpisodes: []sdmmr.RecordCareEpisode{{Key: "c", SiteCode: "S001", OutsideLabelling: yes()}},
		Activities:   []sdmmr.RecordActivity{{Key: "a", DeclaringSiteCode: "S001", Objectives: []sdmmr.Code{{Code: "O1"}}}},
		Diagnoses: []sdmmr.RecordDiagnosis{{Key: "d", Disease: &sdmmr.Code{Code: "558", System: "1.2.250.1.213.2.49.1"},
			OnsetAge: &sdmmr.Quantity{Value: 18, Unit: "mo"}, Genes: []sdmmr.Code{{Code: "HGNC:3603"}}}},
		FamilyHistory:    []sdmmr.RecordFamilyHistory{{FirstCaseKey: "fc", Diseases: []sdmmr.Code{{Code: "558"}}}},
		ActiveProblems:   []sdmmr.Problem{{Value: &sdmmr.Code{Code: "Q87.4", System: "2.16.840.1.113883.6.3"}}},
		DeathDueToRD:     &sdmmr.RecordDeath{Disease: &sdmmr.Code{Code: "558"}, YearMonth: "2026-09"},
		FunctionalStatus: []sdmmr.FunctionalStatus{{Code: &sdmmr.Code{Code: "b710"}}},
		Antenatal:        &sdmmr.Antenatal{BirthWeight: &sdmmr.Quantity{Value: 3.2, Unit: "kg"}},
		Pregnancies: []sdmmr.RecordPregnancy{{StartYearMonth: "2026-01", FetusCount: &n,
			Births: []sdmmr.RecordBirth{{Sequence: 1, Subject: &sdmmr.RecordSubject{Pseudonym: "fetus"}}}}},
		Research:   &sdmmr.RecordResearch{ProtocolParticipant: yes()},
		Treatments: []sdmmr.RecordTreatment{{Product: &sdmmr.Code{Code: "P1"}}},
	}
}

func TestInsertWritesEveryTableIdempotently(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	batch := []events.Record{fullRecord("s1", 1, false), fullRecord("s1", 2, false), fullRecord("s2", 1, true)}
	// s1 version 2 comes during a key rotation: stored under the old key,
	// with its links (pseudonym_links).
	batch[1].KeyID = "key2"
	batch[1].PreviousKeys = []sdmmr.PseudonymSet{{KeyID: "key1", DocumentKey: "k", PatientINSPseudonym: "ins-s1",
		PatientTraitsPseudonym: "tr-s1", IPPKeys: []string{"ipp1"}}}
	batch[1].PatientINSPseudonym, batch[1].PatientTraitsPseudonym, batch[1].IPPKeys = "ins2-s1", "tr2-s1", []string{"ipp2"}
	outs := []events.MailOutcome{
		{V: events.OutcomeV, MailID: "m1", From: "Dr X <dpi@chu.mssante.fr>", ReceivedAt: time.Now(), Documents: []events.DocumentOutcome{
			{Name: "a.xml", FINESS: "750000010", SetID: "s1", VersionNumber: 1, EffectiveTime: "20261015", Accepted: true},
			{Name: "b.xml", FINESS: "750000010", SetID: "s3", VersionNumber: 1, EffectiveTime: "20261015",
				Rejection: &events.Rejection{Code: "schematron", CISIS: 906, Reason: "invalid"},
				Failures:  []events.Failure{{Source: "XSD", Text: "bad"}}}}},
		{V: events.OutcomeV, MailID: "m2", ReceivedAt: time.Now(), Rejected: &events.Rejection{Code: "zip_bomb", CISIS: 906, Reason: "too big"}},
	}
	tables := stopMerges(t, s)
	day := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for range 2 { // the second round is a redelivery
		if err := s.InsertDocuments(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertReceipts(ctx, outs); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertCentres(ctx, []Centre{{FINESS: "750000010", CentreID: "S001", Filiere: "F", Type: "coordonnateur",
			From: day, To: day.AddDate(5, 0, 0)}}); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertDPIUpdates(ctx, "csv", []DPIUpdates{{FINESS: "750000010", Month: day, Count: 3}}); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertEstablishments(ctx, []Establishment{{FINESS: "750000010", Name: "CHU"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Every table holds each of its keys twice until ClickHouse merges, and
	// once after.
	before := rowsAndKeys(t, s, tables)
	for _, table := range tables {
		if c := before[table]; c.keys == 0 || c.rows != 2*c.keys {
			t.Errorf("%s before merging: %d rows for %d keys, want each key twice", table, c.rows, c.keys)
		}
	}
	// Distinct keys per table: the opposition document (s2) has only its documents row.
	for q, want := range map[string]uint64{
		"SELECT uniqExact(set_id, version_number) FROM documents":                                                                     3,
		"SELECT uniqExact(set_id, version_number) FROM patients":                                                                      2,
		"SELECT uniqExact(set_id, version_number, ordinal) FROM diagnoses WHERE disease_system='ORPHA'":                               2,
		"SELECT uniqExact(set_id, version_number) FROM activities":                                                                    2,
		"SELECT uniqExact(set_id, version_number) FROM care_episodes WHERE site_code='S001'":                                          2,
		"SELECT uniqExact(set_id, version_number) FROM family_history":                                                                2,
		"SELECT uniqExact(set_id, version_number) FROM active_problems WHERE value_system='CIM-10'":                                   2,
		"SELECT uniqExact(set_id, version_number) FROM functional_status":                                                             2,
		"SELECT uniqExact(set_id, version_number) FROM pregnancies WHERE fetus_count=2":                                               2,
		"SELECT uniqExact(set_id, version_number) FROM births WHERE subject_pseudonym='fetus'":                                        2,
		"SELECT uniqExact(set_id, version_number) FROM research":                                                                      2,
		"SELECT uniqExact(set_id, version_number) FROM treatments":                                                                    2,
		"SELECT uniqExact(mail_id, doc_index) FROM receipts":                                                                          3,
		"SELECT uniqExact(mail_id, doc_index) FROM receipts WHERE accepted = 0 AND cisis_code = 906":                                  2,
		"SELECT uniqExact(set_id, version_number) FROM versions":                                                                      4,
		"SELECT uniqExact(set_id, version_number) FROM versions WHERE accepted = 0":                                                   1,
		"SELECT count() FROM documents_current":                                                                                       2,
		"SELECT toUInt64(max(version_number)) FROM documents_current WHERE set_id='s1'":                                               2,
		"SELECT uniqExact(set_id) FROM diagnoses_current":                                                                             1,
		"SELECT toUInt64(round(max(onset_age_years) * 10)) FROM diagnoses":                                                            15,
		"SELECT toUInt64(max(birth_weight_g)) FROM documents":                                                                         3200,
		"SELECT uniqExact(set_id, version_number) FROM documents WHERE opposition = 1 AND patient_key = ''":                           1,
		"SELECT uniqExact(set_id, version_number) FROM documents WHERE key_id = 'key1' AND patient_key = 'tr-s1'":                     2,
		"SELECT uniqExact(kind, old_pseudonym, new_pseudonym) FROM pseudonym_links WHERE old_key_id = 'key1' AND new_key_id = 'key2'": 4,
	} {
		var got uint64
		if err := s.conn.QueryRow(ctx, q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	var dom string
	if err := s.conn.QueryRow(ctx, "SELECT any(sender_domain) FROM receipts WHERE mail_id='m1'").Scan(&dom); err != nil || dom != "chu.mssante.fr" {
		t.Errorf("sender domain %q (%v), want chu.mssante.fr", dom, err)
	}
	mergeAll(t, s, tables)
	after := rowsAndKeys(t, s, tables)
	for _, table := range tables {
		if c := after[table]; c.keys != before[table].keys || c.rows != c.keys {
			t.Errorf("%s merged: %d rows for %d keys, want one row for each of the %d keys", table, c.rows, c.keys, before[table].keys)
		}
	}
}

// stopMerges stops the background merges of every table the store writes
// (its INSERT statements, schema_migrations aside), one by one: the server
// is shared with other tests. It returns the tables.
func stopMerges(t *testing.T, s *Store) []string {
	t.Helper()
	var tables []string
	for _, st := range insertStatements() {
		if table, _, _ := InsertTable(st); table != "schema_migrations" && !Journal(table) {
			tables = append(tables, table)
			if err := s.conn.Exec(context.Background(), "SYSTEM STOP MERGES "+s.db+"."+table); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tables
}

// mergeAll starts the merges of the tables again and merges each one
// (OPTIMIZE … FINAL): the duplicates collapse.
func mergeAll(t *testing.T, s *Store, tables []string) {
	t.Helper()
	for _, table := range tables {
		if err := s.conn.Exec(context.Background(), "SYSTEM START MERGES "+s.db+"."+table); err != nil {
			t.Fatal(err)
		}
		if err := s.conn.Exec(context.Background(), "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
}

type rowKeys struct{ rows, keys uint64 }

// rowsAndKeys counts the raw rows of each table and its distinct keys: the
// partition and sorting keys, which ReplacingMergeTree folds rows on.
func rowsAndKeys(t *testing.T, s *Store, tables []string) map[string]rowKeys {
	t.Helper()
	ctx := context.Background()
	out := map[string]rowKeys{}
	for _, table := range tables {
		var part, sorting string
		if err := s.conn.QueryRow(ctx, "SELECT partition_key, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = ?",
			table).Scan(&part, &sorting); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		key := sorting
		if part != "" {
			key = part + ", " + sorting
		}
		var c rowKeys
		if err := s.conn.QueryRow(ctx, "SELECT toUInt64(count()), toUInt64(uniqExact("+key+")) FROM "+table).Scan(&c.rows, &c.keys); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = c
	}
	return out
}

func TestParseReferenceCSVs(t *testing.T) {
	cs, err := ParseCentresCSV(strings.NewReader("\xEF\xBB\xBFFINESS;Centre ID;Filière;Type;Début;Fin\n750000010;S001;FAVA-Multi;coordonnateur;2023-01-01;\n"))
	if err != nil || len(cs) != 1 || cs[0].CentreID != "S001" || cs[0].Filiere != "FAVA-Multi" || cs[0].From.Year() != 2023 || cs[0].To.Year() != 2105 {
		t.Fatalf("centres: %+v, %v", cs, err)
	}
	ds, err := ParseDPIUpdatesCSV(strings.NewReader("finess,mois,nombre\n750000010,2026-10,1 200\n"))
	if err != nil || len(ds) != 1 || ds[0].Count != 1200 || ds[0].Month.Month() != 10 {
		t.Fatalf("dpi: %+v, %v", ds, err)
	}
	if _, err := ParseDPIUpdatesCSV(strings.NewReader("finess;mois;nombre\n750000010;octobre;3\n")); err == nil {
		t.Error("a month in words was accepted")
	}
	if _, err := ParseCentresCSV(strings.NewReader("finess;filiere\n1;x\n")); err == nil {
		t.Error("a centre list without centre_id was accepted")
	}
}
