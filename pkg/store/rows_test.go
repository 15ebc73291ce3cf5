package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
)

// shuffledKey is embedded in embeddedRow, between its other columns.
type shuffledKey struct {
	Name string `ch:"name"`
}

type embeddedRow struct {
	Count uint32 `ch:"count"`
	shuffledKey
	Day time.Time `ch:"day"`
}

// TestRowsFollowTheirFields: rows whose fields are not in the table's column
// order, embedded or not, are written each value into its own column.
func TestRowsFollowTheirFields(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if err := s.conn.Exec(ctx, `CREATE TABLE rows_order (name String, count UInt32, day Date, tags Array(String), score Nullable(Float64))
		ENGINE = MergeTree ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Score *float64  `ch:"score"`
		Tags  []string  `ch:"tags"`
		Day   time.Time `ch:"day"`
		Count uint32    `ch:"count"`
		Name  string    `ch:"name"`
	}
	ins := insertRows[row]("rows_order")
	if got := strings.Join(ins.columns(), ","); got != "score,tags,day,count,name" {
		t.Fatalf("columns %s: want the fields' order", got)
	}
	half := 0.5
	day := time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)
	b := newRows(ins)
	b.add(row{Score: &half, Tags: []string{"x", "y"}, Day: day, Count: 7, Name: "a"})
	b.add(row{Day: day.AddDate(0, 0, 1), Count: 9, Name: "b", Tags: []string{}})
	e := newRows(insertRows[embeddedRow]("rows_order"))
	e.add(embeddedRow{Count: 11, shuffledKey: shuffledKey{Name: "c"}, Day: day})
	if err := s.send(ctx, b, e); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	rs, err := s.conn.Query(ctx, "SELECT concat(name, ' ', toString(count), ' ', toString(day), ' ', arrayStringConcat(tags, '+'), ' ', ifNull(toString(score), 'null')) FROM rows_order ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var line string
		if err := rs.Scan(&line); err != nil {
			t.Fatal(err)
		}
		got = append(got, line)
	}
	want := "a 7 2026-10-12 x+y 0.5|b 9 2026-10-13  null|c 11 2026-10-12  null"
	if strings.Join(got, "|") != want {
		t.Errorf("rows read back %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestInsertOfAColumnTheTableLacks: a row type naming a column its table
// lacks (a field added without its migration) fails the check that runs at
// start, after the migrations, naming the table and the column; the
// package's own rows pass it.
func TestInsertOfAColumnTheTableLacks(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("the package's rows against its own migrations: %v", err)
	}
	type documentRowPlus struct {
		documentRow
		Hospitalised uint8 `ch:"hospitalised"`
	}
	err := s.checkInserts(ctx, append(typedInserts(), insertRows[documentRowPlus]("documents")))
	if err == nil || !strings.Contains(err.Error(), "the hub writes columns the database lacks: documents.hospitalised (") {
		t.Errorf("check of a row with a column documents lacks: %v", err)
	}
}

// TestRowTypeMistakes: a field without a column, or a column named twice,
// stops the program when the registry is built.
func TestRowTypeMistakes(t *testing.T) {
	type untagged struct {
		Name  string `ch:"name"`
		Count uint32
	}
	type twice struct {
		Name  string `ch:"name"`
		Other string `ch:"name"`
	}
	for name, build := range map[string]func(){
		"untagged field":     func() { insertRows[untagged]("t") },
		"column named twice": func() { insertRows[twice]("t") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "insert into t") {
					t.Errorf("panic %v, want one naming the insert", r)
				}
			}()
			build()
		})
	}
}

// BenchmarkDocumentRows: the rows of a batch of full records (every
// clinical table) built and read out value by value as send does, without
// a server: the cost typed rows add to an insert.
func BenchmarkDocumentRows(b *testing.B) {
	recs := make([]events.Record, 100)
	for i := range recs {
		recs[i] = fullRecord(fmt.Sprint("s", i), 1, false)
	}
	b.ReportAllocs()
	values := 0
	for b.Loop() {
		d := newDocumentBatch(len(recs))
		for i := range recs {
			d.add(&recs[i])
		}
		for _, t := range []batch{d.links, d.patients, d.diagnoses, d.activities, d.care, d.family, d.problems,
			d.functional, d.pregnancies, d.births, d.research, d.treatments, d.versions, d.documents} {
			for i := range t.len() {
				values += len(t.row(i))
			}
		}
	}
	b.ReportMetric(float64(values)/float64(b.N)/float64(len(recs)), "values/record")
}
