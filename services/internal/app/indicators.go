package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/indicators"
	"github.com/bndmr/hub/pkg/kit"
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
	auth      access.Settings
	kit       string
}

func (*Indicators) Name() string { return "indicators" }

func (c *Indicators) Flags(f *service.Flags) {
	f.String(&c.dsn, "clickhouse", "BNDMR_CLICKHOUSE_DSN", "clickhouse://127.0.0.1:9000/default", "ClickHouse DSN")
	clickhouseTLSFlags(f, &c.tls)
	f.String(&c.addr, "indicators-addr", "BNDMR_INDICATORS_ADDR", ":8090", "address of the indicators API and pages")
	f.Int(&c.threshold, "small-count-threshold", "BNDMR_SMALL_COUNT_THRESHOLD", indicators.DefaultThreshold,
		"epidemiology counts below this are suppressed in every export")
	flagsAuth(f, &c.auth)
	f.String(&c.kit, "kit", kit.EnvVar, "", "CI-SIS kit folder, whose value sets name the codes the exports and the dashboard show "+
		"("+kit.DefaultHelp+"; none: codes alone)")
}

// codeLabels reads the names of codes from the value sets of the kit in
// dir. Without a kit given (--kit, CISIS_KIT) and none beside the
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

// flagsAuth: sign-in settings of the indicators (docs/security.md).
func flagsAuth(f *service.Flags, a *access.Settings) {
	f.String(&a.Mode, "auth", "BNDMR_AUTH", "oidc", "sign-in: oidc, or none (everyone is operator; loopback addresses only)")
	f.String(&a.Issuer, "oidc-issuer", "BNDMR_OIDC_ISSUER", "", "OpenID Connect issuer URL")
	f.String(&a.ClientID, "oidc-client-id", "BNDMR_OIDC_CLIENT_ID", "", "OpenID Connect client id of the indicators")
	f.String(&a.ClientSecretFile, "oidc-client-secret-file", "BNDMR_OIDC_CLIENT_SECRET_FILE", "", "file holding the client secret")
	f.String(&a.PublicURL, "public-url", "BNDMR_PUBLIC_URL", "", "https:// address people reach the indicators at (callback: /auth/callback)")
	f.String(&a.Audiences, "oidc-audiences", "BNDMR_OIDC_AUDIENCES", "", "audiences accepted in scripts' bearer tokens besides the client id (comma-separated)")
	f.String(&a.Scopes, "oidc-scopes", "BNDMR_OIDC_SCOPES", "", "scopes asked besides openid and profile (Pro Santé Connect: scope_all)")
	f.String(&a.RolesFile, "oidc-roles", "BNDMR_OIDC_ROLES", "", "role mapping file (JSON; docs/security.md)")
	f.String(&a.SessionSecretFile, "session-secret-file", "BNDMR_SESSION_SECRET_FILE", "", "file of 32+ random bytes sealing session cookies")
	f.Duration(&a.SessionTTL, "session-ttl", "BNDMR_SESSION_TTL", 8*time.Hour, "how long a session lasts")
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
	guard, err := c.auth.Guard(ctx, c.addr, st, env.Log)
	if err != nil {
		return err
	}
	labels, err := codeLabels(c.kit, env.Log)
	if err != nil {
		return err
	}
	h := (&indicators.Server{X: indicators.New(st), Log: env.Log, Threshold: uint64(c.threshold), Access: guard, Labels: labels}).Handler()
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	env.Log.Info("indicators API and dashboard", zap.String("addr", ln.Addr().String()))
	return service.Serve(ctx, ln, h, service.ShutdownGrace)
}
