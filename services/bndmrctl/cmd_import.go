package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bndmr/hub/pkg/store"
)

// cmdImport loads a reference CSV into ClickHouse: the labelled centres, the
// DPI update counts establishments declare, or establishment settings.
func cmdImport(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dsn := clickhouseFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: bndmrctl import centres|dpi|establishments [--clickhouse DSN] FILE.csv ('-' = stdin)

  centres         finess;centre_id;filiere;type;debut;fin[;nom]   labelled centres (type: coordonnateur, constitutif, competence)
  dpi             finess;mois;nombre                              SDM-MR versions updated in the DPI per month (MR.2 denominator)
  establishments  finess;nom;debut_transmission                   names and start dates of transmission

';' or ',' separated, UTF-8 with or without BOM, header line required; dates AAAA-MM-JJ or JJ/MM/AAAA.`)
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	kind := args[0]
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl import: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	st, err := dsn.open(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl import: %v\n", err)
		return 1
	}
	defer st.Close()
	var n int
	switch kind {
	case "centres":
		var cs []store.Centre
		if cs, err = store.ParseCentresCSV(in); err == nil {
			n, err = len(cs), st.InsertCentres(ctx, cs)
		}
	case "dpi":
		var ds []store.DPIUpdates
		if ds, err = store.ParseDPIUpdatesCSV(in); err == nil {
			n, err = len(ds), st.InsertDPIUpdates(ctx, "csv", ds)
		}
	case "establishments":
		var es []store.Establishment
		if es, err = store.ParseEstablishmentsCSV(in); err == nil {
			n, err = len(es), st.InsertEstablishments(ctx, es)
		}
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl import %s: %v\n", kind, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "bndmrctl import %s: %d rows recorded\n", kind, n)
	return 0
}
