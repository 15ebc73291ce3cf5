package app

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/store"
)

// Indicators serves the programme's figures over HTTP.
type Indicators struct {
	dsn  string
	addr string
}

func (*Indicators) Name() string { return "indicators" }

func (c *Indicators) Flags(f *service.Flags) {
	f.String(&c.dsn, "clickhouse", "BNDMR_CLICKHOUSE_DSN", "clickhouse://127.0.0.1:9000/default", "ClickHouse DSN")
	f.String(&c.addr, "indicators-addr", "BNDMR_INDICATORS_ADDR", ":8090", "address of the indicators API and pages")
}

func (c *Indicators) Check() error { return nil }

func (c *Indicators) Run(ctx context.Context, env Env) error {
	st, err := openStore(ctx, c.dsn, env)
	if err != nil {
		return err
	}
	defer st.Close()
	env.Ops.Ready("clickhouse", st.Ping)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/documents-per-establishment", func(w http.ResponseWriter, r *http.Request) {
		rows, err := st.DocumentsPerEstablishment(r.Context())
		if err != nil {
			env.Log.Error("documents per establishment", zap.Error(err))
			http.Error(w, "query failed: "+err.Error(), http.StatusBadGateway)
			return
		}
		if rows == nil {
			rows = []store.EstablishmentCount{}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(rows)
	})
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	env.Log.Info("indicators API", zap.String("addr", ln.Addr().String()))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
