package store

import (
	"encoding/xml"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/chddl"
)

// TestIndicatorsUserGrants reads the production users file: the indicators'
// ClickHouse user may read the hub's database and insert into exactly the
// tables the service writes (the access journal, the declared counts and
// their history: InsertAccess and ChangeDPIUpdates), Distributed and
// _local; its profile is not readonly, which would refuse those inserts
// and with them every request (nothing is served without a journal line).
// No test here runs the grants themselves: ClickHouse 18.16 has no GRANT
// and chDB no users (docs/security.md).
func TestIndicatorsUserGrants(t *testing.T) {
	b, err := os.ReadFile("../../deploy/k8s/base/clickhouse/bndmr-users.xml")
	if err != nil {
		t.Fatal(err)
	}
	type setting struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	}
	var doc struct {
		Profiles struct {
			Indicators struct {
				Settings []setting `xml:",any"`
			} `xml:"indicators"`
		} `xml:"profiles"`
		Users struct {
			Indicators struct {
				Profile        string   `xml:"profile"`
				AllowDatabases *setting `xml:"allow_databases"`
				Grants         []string `xml:"grants>query"`
			} `xml:"indicators"`
		} `xml:"users"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	u := doc.Users.Indicators
	if u.Profile != "indicators" {
		t.Errorf("the indicators user has profile %q, want its own (indicators)", u.Profile)
	}
	for _, s := range doc.Profiles.Indicators.Settings {
		if s.XMLName.Local == "readonly" && strings.TrimSpace(s.Value) != "0" {
			t.Errorf("the indicators profile sets readonly=%s: its inserts would be refused", s.Value)
		}
	}
	if u.AllowDatabases != nil {
		t.Error("allow_databases beside grants: ClickHouse refuses the user")
	}
	want := []string{"GRANT SELECT ON default.*"}
	for _, st := range []Statement{insertAccess.Statement, insertDPIUpdates.Statement, insertDPIHistory.Statement} {
		table, _, ok := InsertTable(st)
		if !ok {
			t.Fatalf("%s: not an insert", st.Name)
		}
		want = append(want, "GRANT INSERT ON default."+table, "GRANT INSERT ON default."+table+chddl.LocalSuffix)
	}
	got := make([]string, len(u.Grants))
	for i, g := range u.Grants {
		got[i] = strings.Join(strings.Fields(g), " ")
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("grants of the indicators user:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
