package validator

import (
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/service"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// Defaults returns the settings the validator starts from: workers 0 (New
// makes it DefaultWorkers, which depends on the cores the process may use),
// the default mail and XML limits, no INS required.
func Defaults() Config {
	return Config{Limits: mssante.DefaultLimits(), XML: xmldoc.DefaultLimits}
}

// WithDefaults gives the fields left zero their Defaults, and Workers
// DefaultWorkers (New applies it).
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers()
	}
	if c.Limits.MaxMailBytes == 0 {
		c.Limits = d.Limits
	}
	if c.XML.MaxBytes == 0 {
		c.XML = d.XML
	}
	return c
}

// RegisterFlags declares --PREFIX-workers and --PREFIX-require-ins with c's
// values as defaults (the CI-SIS kit is the process's --kit).
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.Int(&c.Workers, service.Name(prefix, "workers"), c.Workers, "mails validated at once (0: twice the cores available)")
	f.Bool(&c.RequireINS, service.Name(prefix, "require-ins"), c.RequireINS, "reject (903) documents whose patient has no INS")
}
