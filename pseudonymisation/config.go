package pseudonymisation

import "github.com/bndmr/hub/pkg/service"

// Config is what the pseudonymisation service is given: the key file (or
// folder of keys) and whether a key rotation runs.
type Config struct {
	KeyFile  string
	Rotation bool
}

// RegisterFlags declares --PREFIX-key-file and --PREFIX-rotation with c's
// values as defaults.
func (c *Config) RegisterFlags(f *service.Flags, prefix string) {
	f.String(&c.KeyFile, service.Name(prefix, "key-file"), c.KeyFile,
		"pseudonymisation key file or folder of key files (bndmrctl keygen); a Kubernetes Secret mounted as a folder")
	f.Bool(&c.Rotation, service.Name(prefix, "rotation"), c.Rotation,
		"also compute the pseudonyms of the other key of the key file (a rotation: exactly two keys)")
}
