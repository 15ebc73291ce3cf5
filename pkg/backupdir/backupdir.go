// Package backupdir holds what the backup tools (pkg/chbackup,
// pkg/jsbackup) share about the folder a backup is written into.
package backupdir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

// ReadManifest decodes the JSON manifest file of the backup in dir into
// man; an error names the file and says when it is missing.
func ReadManifest(dir, file string, man any) error {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return fmt.Errorf("%s has no readable %s (an interrupted backup?): %w", dir, file, err)
	}
	if err := json.Unmarshal(data, man); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, file), err)
	}
	return nil
}
