package app

import (
	"errors"
	"fmt"

	"github.com/bndmr/hub/pkg/access"
	"github.com/bndmr/hub/pkg/store"
)

// checkAcross checks, once the flags are parsed and before anything
// starts, the rules that tie settings of different groups together. Each
// is said in the help of one of its flags; here it stops the process with
// a message naming the flags, instead of a failure later (a mail too large
// for its stream message, a service waiting forever for a ClickHouse it
// will never reach).
func checkAcross(common Common, comps ...Component) error {
	var errs []error
	clickhouse := map[*store.Config]bool{}
	checkCH := func(ch *store.Config) {
		if ch != nil && !clickhouse[ch] {
			clickhouse[ch] = true
			errs = append(errs, ch.Check("clickhouse"))
		}
	}
	for _, c := range comps {
		switch c := c.(type) {
		case *Ingest:
			errs = append(errs, c.cfg.CheckMessageSize(common.Bus.MaxMsgBytes))
		case *Loader:
			checkCH(c.ch)
		case *Indicators:
			checkCH(c.ch)
			if c.auth.Mode == "none" {
				if err := access.CheckNoneAddr(c.cfg.Addr); err != nil {
					errs = append(errs, fmt.Errorf("--indicators-addr: %w", err))
				}
			}
		}
	}
	return errors.Join(errs...)
}
