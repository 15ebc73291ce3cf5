package loader

import (
	"time"

	"github.com/bndmr/hub/pkg/service"
)

// Defaults returns the settings the loader starts from. A backlog (a
// hospital's first upload) fills batches of 1000 in a few seconds: few
// large inserts, as ClickHouse wants them (each insert writes a part per
// table and month, which its merges then rewrite: at a 2 s flush ClickHouse
// spent 4.2 ms of CPU per document, at 10 s 1.0-1.5 ms). A lone document
// is written a quarter of a second after it came.
func Defaults() Config {
	return Config{BatchSize: 1000, FlushEvery: 10 * time.Second, Quiet: 250 * time.Millisecond}
}

// WithDefaults gives the fields left zero their Defaults (New applies it).
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = d.FlushEvery
	}
	if c.Quiet <= 0 {
		c.Quiet = d.Quiet
	}
	return c
}

// RegisterFlags declares --PREFIX-batch, --PREFIX-flush and --PREFIX-quiet with c's values
// as defaults (the ClickHouse connection is store.Config's flags).
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.Int(&c.BatchSize, service.Name(prefix, "batch"), c.BatchSize, "rows per insert at most")
	f.Duration(&c.FlushEvery, service.Name(prefix, "flush"), c.FlushEvery, "longest wait before a partial batch is written")
	f.Duration(&c.Quiet, service.Name(prefix, "quiet"), c.Quiet, "a partial batch is written once no document came for this long")
}
