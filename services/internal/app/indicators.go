package app

import (
	"context"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/store"
)

// Indicators serves the programme's figures over HTTP: MR.1 and MR.2 per
// establishment, epidemiology, DGOS export, reception reports, dashboard.
type Indicators struct {
	ch   *store.Config
	cfg  indicators.Config
	auth access.Settings
	kit  *string
}

func (*Indicators) Name() string { return "indicators" }

func (c *Indicators) Flags(f *service.Flags, shared *Shared) {
	c.ch = shared.ClickHouse()
	c.cfg = indicators.Defaults()
	c.cfg.RegisterFlags(f, "indicators")
	c.auth = access.DefaultSettings()
	c.auth.RegisterFlags(f, "")
	c.kit = shared.Kit()
}

// codeLabels reads the names of codes from the value sets of the kit in
// dir. Without a kit given (--kit or BNDMR_KIT, else CISIS_KIT) and none beside the
// repository, the codes are shown alone: the names are a help to the
// reader, not a figure. A kit given that cannot be read is an error.
func codeLabels(dir string, log *zap.Logger) (indicators.Labeller, error) {
	if dir == "" {
		d, err := kit.Dir()
		if err != nil {
			log.Warn("no CI-SIS kit: codes are shown without their names", zap.Error(err))
			return nil, nil
		}
		dir = d
	}
	start := time.Now()
	l, err := kit.LoadLabels(dir)
	if err != nil {
		return nil, fmt.Errorf("names of codes: %w", err)
	}
	log.Info("names of codes read from the CI-SIS kit", zap.String("kit", dir), zap.Int("codes", l.Len()),
		zap.Int("value_sets", l.Files()), zap.Duration("took", time.Since(start)))
	return l, nil
}

func (c *Indicators) Check() error {
	return c.cfg.Validate()
}

func (c *Indicators) Run(ctx context.Context, env Env) error {
	st, err := openStore(ctx, *c.ch, env)
	if err != nil {
		return err
	}
	defer st.Close()
	// The tables are the loader's (or `bndmrctl migrate`'s) to create: two
	// services migrating at once would race on the same DDL.
	env.Ops.Ready("clickhouse", st.Ping)
	guard, err := c.auth.Guard(ctx, c.cfg.Addr, st, env.Log)
	if err != nil {
		return err
	}
	labels, err := codeLabels(*c.kit, env.Log)
	if err != nil {
		return err
	}
	h := (&indicators.Server{X: indicators.New(st), Log: env.Log, Threshold: uint64(c.cfg.Threshold), Access: guard, Labels: labels}).Handler()
	ln, err := net.Listen("tcp", c.cfg.Addr)
	if err != nil {
		return err
	}
	env.Log.Info("indicators API and dashboard", zap.String("addr", ln.Addr().String()))
	return service.Serve(ctx, ln, h, service.ShutdownGrace)
}
