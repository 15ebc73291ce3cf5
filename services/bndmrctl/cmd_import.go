package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"github.com/bndmr/hub/pkg/store"
)

// cmdImport loads a reference CSV into ClickHouse: the labelled centres, the
// DPI update counts establishments declare, or establishment settings.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("import", `usage: bndmrctl import centres|dpi|establishments [--clickhouse DSN] [--author NAME] FILE.csv ('-' = stdin)
       bndmrctl import dir [--clickhouse DSN] [--author NAME] DIR
  dir             establishments.csv, centres.csv, dpi.csv of DIR, those present, in that order (the Job reference-import)

  centres         finess;centre_id;filiere;type;debut;fin[;nom]   labelled centres (type: coordonnateur, constitutif, competence)
  dpi             finess;mois;nombre                              SDM-MR versions updated in the DPI per month (MR.2 denominator);
                                                                  each change keeps the previous value and its author
  establishments  finess;nom;debut_transmission                   names and start dates of transmission

';' or ',' separated, UTF-8 with or without BOM, header line required; dates AAAA-MM-JJ or JJ/MM/AAAA.`, stderr)
	dsn := clickhouseFlag(fs)
	author := envFlag(fs, "author", "", "who makes the change (dpi): kept in dpi_updates_history and audit_access; default: your system account, refused if it names no one (root)")
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	kind := args[0]
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if kind == "dir" {
		return importDir(ctx, fs.Arg(0), args[1:len(args)-1], stdout, stderr)
	}
	var op store.Operator
	if kind == "dpi" {
		var err error
		if op, err = operator(*author); err != nil {
			fmt.Fprintf(stderr, "bndmrctl import dpi: %v\n", err)
			return 2
		}
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "bndmrctl import: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	st, err := dsn.open(ctx)
	if err != nil {
		return fail(stderr, "import", err)
	}
	defer st.Close()
	if kind != "centres" && kind != "dpi" && kind != "establishments" {
		fs.Usage()
		return 2
	}
	n, err := importCSV(ctx, st, kind, in, op, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl import %s: %v\n", kind, err)
		return 1
	}
	fmt.Fprintf(stderr, "bndmrctl import %s: %d rows recorded\n", kind, n)
	return 0
}

// importCSV records the rows of a CSV file of kind centres, dpi or
// establishments and returns how many; the declared counts it changes are
// printed on stderr with the value they replace.
func importCSV(ctx context.Context, st *store.Store, kind string, in io.Reader, op store.Operator, stderr io.Writer) (int, error) {
	switch kind {
	case "centres":
		cs, err := store.ParseCentresCSV(in)
		if err != nil {
			return 0, err
		}
		return len(cs), st.InsertCentres(ctx, cs)
	case "dpi":
		ds, err := store.ParseDPIUpdatesCSV(in)
		if err != nil {
			return 0, err
		}
		changes, err := st.ImportDPIUpdates(ctx, op, ds)
		if err != nil {
			return 0, err
		}
		for _, c := range changes {
			if c.HadPrevious && c.Previous != c.Count {
				fmt.Fprintf(stderr, "  %s %s: %d (was %d)\n", c.FINESS, c.Month.Format("2006-01"), c.Count, c.Previous)
			}
		}
		return len(ds), nil
	}
	es, err := store.ParseEstablishmentsCSV(in)
	if err != nil {
		return 0, err
	}
	return len(es), st.InsertEstablishments(ctx, es)
}

// operator names who runs the import: --author, else the system account.
// root names no one (a shared account, every kubectl exec): --author is
// then required.
func operator(author string) (store.Operator, error) {
	account := ""
	if u, err := user.Current(); err == nil {
		account = u.Username
	}
	host, _ := os.Hostname()
	if author == "" {
		author = account
	}
	if author == "" || author == "root" {
		return store.Operator{}, fmt.Errorf("say who makes the change with --author NAME (the system account %q names no one)", account)
	}
	if account != "" && host != "" {
		account += "@" + host
	}
	return store.Operator{Author: author, Account: account}, nil
}

// importDir imports the reference files of a folder (a mounted ConfigMap),
// each as its own `import KIND`, establishments first: the centres and the
// counts name them.
func importDir(ctx context.Context, dir string, flags []string, stdout, stderr io.Writer) int {
	found := 0
	for _, kind := range []string{"establishments", "centres", "dpi"} {
		p := filepath.Join(dir, kind+".csv")
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found++
		if st := cmdImport(ctx, append(append([]string{kind}, flags...), p), stdout, stderr); st != 0 {
			return st
		}
	}
	if found == 0 {
		fmt.Fprintf(stderr, "bndmrctl import dir: %s holds none of establishments.csv, centres.csv, dpi.csv\n", dir)
		return 1
	}
	return 0
}
