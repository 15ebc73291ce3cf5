package indicators

import (
	"errors"

	"github.com/bndmr/hub/pkg/service"
)

// Config is what the indicators service is given besides its ClickHouse
// connection (store.Config) and its sign-in (access.Settings).
type Config struct {
	// Addr serves the API and the pages.
	Addr string
	// Threshold: epidemiology counts below it are suppressed.
	Threshold int
}

// Defaults returns the settings the indicators start from.
func Defaults() Config { return Config{Addr: ":8090", Threshold: DefaultThreshold} }

// RegisterFlags declares --PREFIX-addr and --small-count-threshold (the
// rule of every export, bndmrctl's included: not under the prefix) with
// c's values as defaults.
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.String(&c.Addr, service.Name(prefix, "addr"), c.Addr, "address of the indicators API and pages")
	f.Int(&c.Threshold, "small-count-threshold", c.Threshold, "epidemiology counts below this are suppressed in every export")
}

// Validate checks c; it changes nothing.
func (c Config) Validate() error {
	if c.Threshold < 1 {
		return errors.New("--small-count-threshold must be at least 1")
	}
	return nil
}
