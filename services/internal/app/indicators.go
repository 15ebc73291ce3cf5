package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/tlsclient"
)

// Indicators serves the programme's figures over HTTP: MR.1 and MR.2 per
// establishment, epidemiology, DGOS export, reception reports, dashboard.
type Indicators struct {
	dsn       string
	tls       tlsclient.Files
	addr      string
	threshold int
}

func (*Indicators) Name() string { return "indicators" }

func (c *Indicators) Flags(f *service.Flags) {
	f.String(&c.dsn, "clickhouse", "BNDMR_CLICKHOUSE_DSN", "clickhouse://127.0.0.1:9000/default", "ClickHouse DSN")
	clickhouseTLSFlags(f, &c.tls)
	f.String(&c.addr, "indicators-addr", "BNDMR_INDICATORS_ADDR", ":8090", "address of the indicators API and pages")
	f.Int(&c.threshold, "small-count-threshold", "BNDMR_SMALL_COUNT_THRESHOLD", indicators.DefaultThreshold,
		"epidemiology counts below this are suppressed in every export")
}

func (c *Indicators) Check() error {
	if c.threshold < 1 {
		return errors.New("--small-count-threshold must be at least 1")
	}
	return nil
}

func (c *Indicators) Run(ctx context.Context, env Env) error {
	st, err := openStore(ctx, c.dsn, c.tls, env)
	if err != nil {
		return err
	}
	defer st.Close()
	// The tables are the loader's (or `bndmrctl migrate`'s) to create: two
	// services migrating at once would race on the same DDL.
	env.Ops.Ready("clickhouse", st.Ping)
	srv := &http.Server{Handler: (&indicators.Server{X: indicators.New(st), Log: env.Log, Threshold: uint64(c.threshold)}).Handler(),
		ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	env.Log.Info("indicators API and dashboard", zap.String("addr", ln.Addr().String()))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
