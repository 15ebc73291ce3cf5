package loader

import (
	"time"

	"github.com/bndmr/hub/pkg/service"
)

// Defaults returns the settings the loader starts from.
func Defaults() Config { return Config{BatchSize: 1000, FlushEvery: 2 * time.Second} }

// WithDefaults gives the fields left zero their Defaults (New applies it).
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = d.FlushEvery
	}
	return c
}

// RegisterFlags declares --PREFIX-batch and --PREFIX-flush with c's values
// as defaults (the ClickHouse connection is store.Config's flags).
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.Int(&c.BatchSize, service.Name(prefix, "batch"), c.BatchSize, "rows per insert at most")
	f.Duration(&c.FlushEvery, service.Name(prefix, "flush"), c.FlushEvery, "longest wait before a partial batch is written")
}
