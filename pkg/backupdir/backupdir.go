// Package backupdir holds what the backup tools (pkg/chbackup,
// pkg/jsbackup) share about the folder a backup is written into.
package backupdir

import (
	"fmt"
	"os"
)

// Empty makes dir (mode 0700: a backup holds patients' data) and checks it
// is empty: a backup never mixes with another's files.
func Empty(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("backup folder %s is not empty: give a new one", dir)
	}
	return nil
}
