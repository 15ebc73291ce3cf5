package chcompat

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/chdb"
)

// ProfileFile is the production users file, from a package folder of this
// repository (pkg/x, services/internal/x).
const ProfileFile = "deploy/k8s/base/clickhouse/bndmr-users.xml"

// ProfileSettings reads the settings of every profile of a ClickHouse users
// file (the production one merges into the image's profiles), as
// name=value. Two profiles giving one setting different values is an error:
// the suite could only run one of them. Settings that say what a user may
// do rather than what a statement means (accessSettings: the analysts'
// readonly) are left out: the suite writes its tables.
func ProfileSettings(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the settings profiles: %w", err)
	}
	var doc struct {
		Profiles struct {
			Profiles []struct {
				XMLName  xml.Name
				Settings []struct {
					XMLName xml.Name
					Value   string `xml:",chardata"`
				} `xml:",any"`
			} `xml:",any"`
		} `xml:"profiles"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading the settings profiles of %s: %w", path, err)
	}
	set := map[string]string{}
	for _, p := range doc.Profiles.Profiles {
		for _, s := range p.Settings {
			name, v := s.XMLName.Local, strings.TrimSpace(s.Value)
			if accessSettings[name] {
				continue
			}
			if old, ok := set[name]; ok && old != v {
				return nil, fmt.Errorf("%s: setting %s is %q in one profile and %q in another", path, name, old, v)
			}
			set[name] = v
		}
	}
	out := make([]string, 0, len(set))
	for n, v := range set {
		out = append(out, n+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// accessSettings restrict a user without changing what a statement that
// runs returns.
var accessSettings = map[string]bool{"readonly": true}

// OpenEngine starts chDB for a suite: in the server's time zone (DateTime
// columns cross from one to the other as text) and with the production
// profile's settings (root: the repository, relative to the test's folder).
// The engine is closed with the test.
func OpenEngine(t *testing.T, srv *Server, root string) *chdb.Engine {
	t.Helper()
	lib, err := chdb.LibFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	tz, err := srv.Query(context.Background(), "default", "SELECT timezone()", "TabSeparated")
	if err != nil {
		t.Fatal(err)
	}
	settings, err := ProfileSettings(root + "/" + ProfileFile)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--path=" + t.TempDir(), "--session_timezone=" + strings.TrimSpace(string(tz))}
	for _, s := range settings {
		args = append(args, "--"+s)
	}
	start := time.Now()
	e, err := chdb.Open(lib, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	// An unknown setting may be ignored at connection: check each is there.
	for _, s := range settings {
		name, want, _ := strings.Cut(s, "=")
		out, err := e.Query(context.Background(), "SELECT value FROM system.settings WHERE name = '"+name+"'", "TabSeparated")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("production profile: %s is %q on chDB, the profile says %q (unknown to this version?)", name, got, want)
		}
	}
	t.Logf("chDB started in %v with %s", time.Since(start).Round(time.Millisecond), strings.Join(args[1:], " "))
	return e
}
