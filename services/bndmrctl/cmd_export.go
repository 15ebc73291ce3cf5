package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/service"
)

// codeLabels reads the names of codes from the kit's value sets: dir, else
// the kit kit.Dir finds; none found, nil (the codes are shown alone).
func codeLabels(dir string) (indicators.Labeller, error) {
	if dir == "" {
		d, err := kit.Dir()
		if err != nil {
			return nil, nil
		}
		dir = d
	}
	l, err := kit.LoadLabels(dir)
	if err != nil {
		return nil, fmt.Errorf("names of codes: %w", err)
	}
	return l, nil
}

// cmdExport writes the indicators: the DGOS export of a month, MR.2, MR.1,
// epidemiology, or one establishment's reception report.
func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("export", "usage: bndmrctl export dgos|mr2|mr1|epidemiology|report|dashboard [flags]\n\n"+
		"  bndmrctl export dgos --month 2026-10 --format xlsx --out dgos-2026-10.xlsx\n"+
		"  bndmrctl export mr2 --from 2026-01 --to 2026-12 --format csv\n"+
		"  bndmrctl export report --finess 750000010 --from 2026-10 --format csv\n"+
		"  bndmrctl export report --finess 750000010 --from 2026-10 --format html --out report.html\n"+
		"  bndmrctl export dashboard --month 2026-10 --out dashboard.html   (static page)", stderr)
	dsn := clickhouseFlag(fs)
	var o exportOptions
	fs.StringVar(&o.month, "month", "", "month AAAA-MM, or previous: the month before this one (dgos; for the others: --from)")
	fs.StringVar(&o.from, "from", "", "first month AAAA-MM (default: the latest month with data)")
	fs.StringVar(&o.to, "to", "", "last month AAAA-MM (default: --from)")
	fs.StringVar(&o.finess, "finess", "", "one establishment (report: required)")
	fs.StringVar(&o.format, "format", "text", "text (readable table), json, csv, xlsx, or html (report: the page the indicators service serves)")
	fs.StringVar(&o.out, "out", "", "output file (default: standard output); {month} in it is replaced by the month (dgos), for a monthly CronJob")
	fs.Uint64Var(&o.threshold, "small-count-threshold", indicators.DefaultThreshold, "epidemiology: counts below it are suppressed")
	kitDir := kitFlag(fs, "CI-SIS kit folder whose value sets name the codes shown ("+kit.DefaultHelp+"; none: codes alone)")
	what, status := parseExport(fs, args, stderr)
	if status >= 0 {
		return status
	}
	if o.month == "previous" {
		o.month = previousMonth(time.Now())
	}
	o.out = strings.ReplaceAll(o.out, "{month}", o.month)
	if o.threshold < 1 {
		fmt.Fprintln(stderr, "bndmrctl export: --small-count-threshold must be at least 1")
		return 2
	}
	st, err := dsn.open(ctx)
	if err != nil {
		return fail(stderr, "export", err)
	}
	defer st.Close()
	labels, err := codeLabels(*kitDir)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl export: %v\n", err)
		return 1
	}
	res, err := computeExport(ctx, indicators.New(st), what, o, labels)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "bndmrctl export %s: %v\n", what, err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "bndmrctl export %s: %v\n", what, err)
		return 1
	}
	if what == "dashboard" {
		o.format = "html" // a page, whatever --format says
	}
	return writeExport(res, what, o, stdout, stderr)
}

// exportOptions are the settings of one export.
type exportOptions struct {
	month, from, to, finess, format, out string
	threshold                            uint64
}

// exportResult is what an export computed, in each form it can be written.
type exportResult struct {
	value  any                   // json
	tables []indicators.Table    // text, csv, xlsx
	page   func(io.Writer) error // html: the report's page, the dashboard
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ error }

// parseExport reads the kind of export and its flags; status is the exit
// status when there is nothing more to do (help, a usage error), else -1.
func parseExport(fs *flag.FlagSet, args []string, stderr io.Writer) (what string, status int) {
	if len(args) == 0 {
		fs.Usage()
		return "", 2
	}
	what = args[0]
	if strings.HasPrefix(what, "-") { // export -h, or flags before the kind
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return "", 0
		}
		fs.Usage()
		return "", 2
	}
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		return "", 0
	} else if err != nil || fs.NArg() != 0 {
		fs.Usage()
		return "", 2
	}
	if !slices.Contains([]string{"dgos", "mr2", "mr1", "epidemiology", "report", "dashboard"}, what) {
		fmt.Fprintf(stderr, "bndmrctl export: unknown export %q\n", what)
		fs.Usage()
		return "", 2
	}
	return what, -1
}

// computeExport reads the figures of export what from ClickHouse.
func computeExport(ctx context.Context, x *indicators.Indicators, what string, o exportOptions, labels indicators.Labeller) (exportResult, error) {
	switch what {
	case "dgos":
		if o.month == "" {
			return exportResult{}, usageError{errors.New("--month AAAA-MM is required")}
		}
		d, err := x.DGOS(ctx, o.month)
		if err != nil {
			return exportResult{}, err
		}
		tables := []indicators.Table{d.Table(), indicators.MR2Table(d.MR2), indicators.MR1Table(d.MR1), indicators.MR1CentresTable(d.MR1)}
		if o.format == "csv" {
			tables = tables[:1]
		}
		return exportResult{value: d, tables: tables}, nil
	case "dashboard":
		d, err := x.Dashboard(ctx, o.month, o.threshold)
		if err != nil {
			return exportResult{}, err
		}
		if labels != nil {
			d.Name(labels)
		}
		return exportResult{page: func(w io.Writer) error { return indicators.RenderDashboard(w, d) }}, nil
	case "epidemiology":
		e, err := x.Epidemiology(ctx, o.threshold)
		if err != nil {
			return exportResult{}, err
		}
		if labels != nil {
			e.Name(labels)
		}
		return exportResult{value: e, tables: e.ExportTables()}, nil
	}
	if what == "report" && o.finess == "" {
		return exportResult{}, usageError{errors.New("--finess is required")}
	}
	p, err := exportPeriod(ctx, x, o)
	if err != nil {
		return exportResult{}, usageError{err}
	}
	switch what {
	case "mr2":
		rows, err := x.MR2(ctx, p, o.finess)
		return exportResult{value: rows, tables: []indicators.Table{indicators.MR2Table(rows)}}, err
	case "mr1":
		rows, err := x.MR1(ctx, p, o.finess)
		return exportResult{value: rows, tables: []indicators.Table{indicators.MR1Table(rows), indicators.MR1CentresTable(rows)}}, err
	}
	r, err := x.Reception(ctx, o.finess, p)
	if err != nil {
		return exportResult{}, err
	}
	return exportResult{value: r, tables: r.Tables(), page: func(w io.Writer) error { return indicators.RenderReception(w, r) }}, nil
}

// exportPeriod is the months asked: --from (else --month, else the latest
// month with data) to --to.
func exportPeriod(ctx context.Context, x *indicators.Indicators, o exportOptions) (indicators.Period, error) {
	f := o.from
	if f == "" {
		f = o.month
	}
	if f == "" {
		m, err := x.LatestMonth(ctx)
		if err != nil || m == "" {
			return indicators.Period{}, fmt.Errorf("no data yet: give --from (%v)", err)
		}
		f = m
	}
	return indicators.ParsePeriod(f, o.to)
}

// writeExport writes res in o.format to o.out (default stdout) and returns
// the exit status.
func writeExport(res exportResult, what string, o exportOptions, stdout, stderr io.Writer) int {
	switch {
	case o.format == "html" && res.page == nil:
		fmt.Fprintf(stderr, "bndmrctl export %s: --format html is for report (and dashboard, always HTML)\n", what)
		return 2
	case o.format == "xlsx" && o.out == "":
		fmt.Fprintln(stderr, "bndmrctl export: --format xlsx needs --out FILE")
		return 2
	case !slices.Contains([]string{"text", "json", "csv", "html", "xlsx"}, o.format):
		fmt.Fprintf(stderr, "bndmrctl export: --format %q: text, json, csv, xlsx or html (report)\n", o.format)
		return 2
	}
	var w io.Writer = stdout
	if o.out != "" {
		f, err := os.Create(o.out)
		if err != nil {
			fmt.Fprintf(stderr, "bndmrctl export: %v\n", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	var err error
	switch o.format {
	case "text":
		err = writeText(w, res.tables)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(res.value)
	case "csv":
		err = indicators.WriteCSV(w, res.tables...)
	case "html":
		err = res.page(w)
	case "xlsx":
		err = indicators.WriteXLSX(w, res.tables...)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl export: %v\n", err)
		return 1
	}
	return 0
}

// writeText prints tables aligned for a terminal.
func writeText(w io.Writer, tables []indicators.Table) error {
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, t.Title)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.Columns, "\t"))
		for _, r := range t.Rows {
			cells := make([]string, len(r))
			for j, c := range r {
				cells[j] = indicators.CellText(c)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// cmdDashboard serves the indicators' dashboard and API from ClickHouse alone
// (no NATS), for the demo and for an analyst's laptop, until interrupted.
func cmdDashboard(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dashboard", "usage: bndmrctl dashboard [--clickhouse DSN] [--addr HOST:PORT] [--auth none|oidc …]", stderr)
	dsn := clickhouseFlag(fs)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	threshold := fs.Uint64("small-count-threshold", indicators.DefaultThreshold, "epidemiology: counts below it are suppressed")
	kitDir := kitFlag(fs, "CI-SIS kit folder whose value sets name the codes shown ("+kit.DefaultHelp+"; none: codes alone)")
	// Without a sign-in by default: the dashboard of an operator's laptop.
	auth := authFlags(fs, access.Settings{Mode: "none", SessionTTL: access.DefaultSettings().SessionTTL})
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *threshold < 1 {
		fs.Usage()
		return 2
	}
	st, err := dsn.open(ctx)
	if err != nil {
		return fail(stderr, "dashboard", err)
	}
	defer st.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	guard, err := auth.Guard(ctx, *addr, st, nil)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	labels, err := codeLabels(*kitDir)
	if err != nil {
		fmt.Fprintf(stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	h := (&indicators.Server{X: indicators.New(st), Threshold: *threshold, Access: guard, Labels: labels}).Handler()
	fmt.Fprintf(stderr, "bndmrctl dashboard: http://%s/\n", ln.Addr())
	if err := service.Serve(ctx, ln, h, service.ShutdownGrace); err != nil {
		fmt.Fprintf(stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	return 0
}

// previousMonth is the month before the one of now (UTC), as AAAA-MM: the
// month a CronJob early in a month exports.
func previousMonth(now time.Time) string {
	y, m, _ := now.UTC().Date()
	return time.Date(y, m-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}
