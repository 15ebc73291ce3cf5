package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/kit"
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
func cmdExport(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	dsn := clickhouseFlag(fs)
	month := fs.String("month", "", "month AAAA-MM, or previous: the month before this one (dgos; for the others: --from)")
	from := fs.String("from", "", "first month AAAA-MM (default: the latest month with data)")
	to := fs.String("to", "", "last month AAAA-MM (default: --from)")
	finess := fs.String("finess", "", "one establishment (report: required)")
	format := fs.String("format", "text", "text (readable table), json, csv, xlsx, or html (report: the page the indicators service serves)")
	out := fs.String("out", "", "output file (default: standard output); {month} in it is replaced by the month (dgos), for a monthly CronJob")
	threshold := fs.Uint64("small-count-threshold", indicators.DefaultThreshold, "epidemiology: counts below it are suppressed")
	kitDir := kitFlag(fs, "CI-SIS kit folder whose value sets name the codes shown ("+kit.DefaultHelp+"; none: codes alone)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bndmrctl export dgos|mr2|mr1|epidemiology|report|dashboard [flags]\n\n"+
			"  bndmrctl export dgos --month 2026-10 --format xlsx --out dgos-2026-10.xlsx\n"+
			"  bndmrctl export mr2 --from 2026-01 --to 2026-12 --format csv\n"+
			"  bndmrctl export report --finess 750000010 --from 2026-10 --format csv\n"+
			"  bndmrctl export report --finess 750000010 --from 2026-10 --format html --out report.html\n"+
			"  bndmrctl export dashboard --month 2026-10 --out dashboard.html   (static page)")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	what := args[0]
	if strings.HasPrefix(what, "-") { // export -h, or flags before the kind
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if !slices.Contains([]string{"dgos", "mr2", "mr1", "epidemiology", "report", "dashboard"}, what) {
		fmt.Fprintf(os.Stderr, "bndmrctl export: unknown export %q\n", what)
		fs.Usage()
		return 2
	}
	if *month == "previous" {
		*month = previousMonth(time.Now())
	}
	*out = strings.ReplaceAll(*out, "{month}", *month)
	if *threshold < 1 {
		fmt.Fprintln(os.Stderr, "bndmrctl export: --small-count-threshold must be at least 1")
		return 2
	}
	st, err := dsn.open(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl export: %v\n", err)
		return 1
	}
	defer st.Close()
	x := indicators.New(st)
	labels, err := codeLabels(*kitDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl export: %v\n", err)
		return 1
	}
	period := func() (indicators.Period, error) {
		f := *from
		if f == "" {
			f = *month
		}
		if f == "" {
			m, err := x.LatestMonth(ctx)
			if err != nil || m == "" {
				return indicators.Period{}, fmt.Errorf("no data yet: give --from (%v)", err)
			}
			f = m
		}
		return indicators.ParsePeriod(f, *to)
	}
	var value any
	var tables []indicators.Table
	// html: the page the service serves, for the reception report only.
	var page func(io.Writer) error
	switch what {
	case "dgos":
		if *month == "" {
			fmt.Fprintln(os.Stderr, "bndmrctl export dgos: --month AAAA-MM is required")
			return 2
		}
		d, err := x.DGOS(ctx, *month)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export dgos: %v\n", err)
			return 1
		}
		value, tables = d, []indicators.Table{d.Table(), indicators.MR2Table(d.MR2), indicators.MR1Table(d.MR1), indicators.MR1CentresTable(d.MR1)}
		if *format == "csv" {
			tables = tables[:1]
		}
	case "mr2", "mr1", "report":
		p, err := period()
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export %s: %v\n", what, err)
			return 2
		}
		switch what {
		case "mr2":
			rows, err2 := x.MR2(ctx, p, *finess)
			value, tables, err = rows, []indicators.Table{indicators.MR2Table(rows)}, err2
		case "mr1":
			rows, err2 := x.MR1(ctx, p, *finess)
			value, tables, err = rows, []indicators.Table{indicators.MR1Table(rows), indicators.MR1CentresTable(rows)}, err2
		case "report":
			if *finess == "" {
				fmt.Fprintln(os.Stderr, "bndmrctl export report: --finess is required")
				return 2
			}
			r, err2 := x.Reception(ctx, *finess, p)
			if err2 == nil {
				value, tables = r, r.Tables()
				page = func(w io.Writer) error { return indicators.RenderReception(w, r) }
			}
			err = err2
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export %s: %v\n", what, err)
			return 1
		}
	case "dashboard":
		d, err := x.Dashboard(ctx, *month, *threshold)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export dashboard: %v\n", err)
			return 1
		}
		if labels != nil {
			d.Name(labels)
		}
		var w io.Writer = os.Stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bndmrctl export: %v\n", err)
				return 1
			}
			defer f.Close()
			w = f
		}
		if err := indicators.RenderDashboard(w, d); err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export dashboard: %v\n", err)
			return 1
		}
		return 0
	case "epidemiology":
		e, err := x.Epidemiology(ctx, *threshold)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export epidemiology: %v\n", err)
			return 1
		}
		if labels != nil {
			e.Name(labels)
		}
		value, tables = e, e.ExportTables()
	default:
		fs.Usage()
		return 2
	}
	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export: %v\n", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	switch *format {
	case "text":
		err = writeText(w, tables)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(value)
	case "csv":
		err = indicators.WriteCSV(w, tables...)
	case "html":
		if page == nil {
			fmt.Fprintf(os.Stderr, "bndmrctl export %s: --format html is for report (and dashboard, always HTML)\n", what)
			return 2
		}
		err = page(w)
	case "xlsx":
		if *out == "" {
			fmt.Fprintln(os.Stderr, "bndmrctl export: --format xlsx needs --out FILE")
			return 2
		}
		err = indicators.WriteXLSX(w, tables...)
	default:
		fmt.Fprintf(os.Stderr, "bndmrctl export: --format %q: text, json, csv, xlsx or html (report)\n", *format)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl export: %v\n", err)
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
func cmdDashboard(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	dsn := clickhouseFlag(fs)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	threshold := fs.Uint64("small-count-threshold", indicators.DefaultThreshold, "epidemiology: counts below it are suppressed")
	kitDir := kitFlag(fs, "CI-SIS kit folder whose value sets name the codes shown ("+kit.DefaultHelp+"; none: codes alone)")
	// Without a sign-in by default: the dashboard of an operator's laptop.
	auth := authFlags(fs, access.Settings{Mode: "none", SessionTTL: access.DefaultSettings().SessionTTL})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bndmrctl dashboard [--clickhouse DSN] [--addr HOST:PORT] [--auth none|oidc …]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *threshold < 1 {
		fs.Usage()
		return 2
	}
	st, err := dsn.open(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	defer st.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	guard, err := auth.Guard(ctx, *addr, st, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	labels, err := codeLabels(*kitDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bndmrctl dashboard: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: (&indicators.Server{X: indicators.New(st), Threshold: *threshold, Access: guard,
		Labels: labels}).Handler(),
		ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "bndmrctl dashboard: http://%s/\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "bndmrctl dashboard: %v\n", err)
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
