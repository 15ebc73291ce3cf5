package store

import (
	"bytes"
	"testing"
)

// The reference CSVs come from establishments (HTTP upload) and from
// spreadsheets: any bytes must give rows or an error, never a panic, and
// every row returned must be usable.
func FuzzParseDPIUpdatesCSV(f *testing.F) {
	for _, s := range []string{"finess;mois;nombre\n750000010;2026-10;12\n", "\xEF\xBB\xBFfiness,month,count\n1,10/2026,1 200\n",
		"finess;mois\n", "", "\"finess;mois;nombre\n", "finess;mois;nombre\n;2026-10;1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := ParseDPIUpdatesCSV(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, d := range ds {
			if d.FINESS == "" || d.Month.Day() != 1 {
				t.Fatalf("unusable row %+v from %q", d, b)
			}
		}
	})
}

func FuzzParseCentresCSV(f *testing.F) {
	for _, s := range []string{"finess;centre_id;filiere;type;debut;fin\n750000010;S001;F;competence;2023-01-01;\n",
		"FINESS,Centre ID\n1,2\n", "finess;centre_id\n;x\n", "\xEF\xBB\xBF"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseCentresCSV(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.FINESS == "" || c.CentreID == "" {
				t.Fatalf("unusable row %+v from %q", c, b)
			}
		}
	})
}
