package k8s_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/bndmr/hub/pkg/topology/chinstance"
)

// The users file the ClickHouse servers of an overlay read, and the
// environment variables its passwords come from.
const usersFileKey = "bndmr-users.xml"

// TestClickHouseAnalyst runs a real ClickHouse 18.16 (Debian's, the one the
// tests use; scripts/clickhouse-instance.sh) with the users file the prod
// overlay renders, over the hub's real schema (schemas/clickhouse), and
// signs in as the analyst with clickhouse-client, as analysts do: every
// table and view of the store reads, and everything else is refused:
// writes, DDL, settings, table functions, another database. The
// differences of ClickHouse 26.7 (production) are written in the users
// file and docs/analysts.md; the settings themselves are checked on 26.7
// by services/internal/compat TestAnalystQueries (readonly on chDB).
func TestClickHouseAnalyst(t *testing.T) {
	if os.Getenv("BNDMR_TEST_CLICKHOUSE") == "" {
		t.Fatal("BNDMR_TEST_CLICKHOUSE not set: run through `make test`, which installs ClickHouse")
	}
	for _, bin := range []string{"clickhouse-server", "clickhouse-client"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: run through `make test` (make deps installs it)", bin)
		}
	}
	users := configMapValue(t, objects(t, "prod"), "clickhouse", usersFileKey)
	if !strings.Contains(users, "<analyst>") {
		t.Fatalf("the prod overlay's %s declares no analyst", usersFileKey)
	}
	passwords := map[string]string{}
	for _, name := range fromEnv(t, users) {
		passwords[name] = "pw-" + strings.ToLower(strings.TrimPrefix(name, "CLICKHOUSE_PASSWORD_"))
	}
	const analystEnv = "CLICKHOUSE_PASSWORD_ANALYST"
	if _, ok := passwords[analystEnv]; !ok {
		t.Fatalf("the analyst's password does not come from %s", analystEnv)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "users.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	// 18.16 wants every merged file's root named as its own (<yandex>);
	// 20.x+ reads <clickhouse> and <yandex> alike.
	old := strings.Replace(strings.Replace(users, "<clickhouse>", "<yandex>", 1), "</clickhouse>", "</yandex>", 1)
	if err := os.WriteFile(filepath.Join(dir, "users.d", usersFileKey), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	first := freePorts(t, 2)
	tcp, http := first, first+1
	chinstance.Start(t, chinstance.Config{Dir: dir, TCP: tcp, HTTP: http, Env: passwords})

	admin := clickhouseClient{port: tcp}
	analyst := clickhouseClient{port: tcp, user: "analyst", password: passwords[analystEnv]}
	applySchema(t, admin)
	for _, q := range []string{
		`INSERT INTO documents (finess, set_id, version_number, effective_date, patient_key, orpha_codes) VALUES ('750000010', 's1', 1, '2026-10-15', 'pk-1', ['513'])`,
		`INSERT INTO audit_access (at, subject, name, role) VALUES (now(), 'sub-1', 'Jeanne Martin', 'operator')`,
		// Identities kept anywhere else on the server (a stand-in for any
		// identified store): another database.
		`CREATE DATABASE identities`,
		`CREATE TABLE identities.patients (ins String, family String, given String) ENGINE = Memory`,
		`INSERT INTO identities.patients VALUES ('299999999999999', 'MARTIN', 'Léa')`,
	} {
		admin.mustRun(t, q)
	}

	tables := strings.Fields(admin.mustRun(t, "SHOW TABLES FROM default"))
	if len(tables) < 15 {
		t.Fatalf("the schema has %d tables and views: %v", len(tables), tables)
	}
	t.Run("reads every table and view", func(t *testing.T) {
		for _, tb := range tables {
			if _, err := analyst.run("SELECT count() FROM " + tb); err != nil {
				t.Errorf("SELECT from %s: %v", tb, err)
			}
		}
		if got := strings.TrimSpace(analyst.mustRun(t, "SELECT patient_key, orpha_codes FROM documents_current ALL INNER JOIN (SELECT set_id, orpha_codes FROM documents) AS d USING set_id SETTINGS join_use_nulls = 0")); got != "pk-1\t['513']" {
			t.Errorf("the document reads back as %q", got)
		}
		if out := analyst.mustRun(t, "DESCRIBE TABLE diagnoses"); !strings.Contains(out, "onset_age_years") {
			t.Errorf("DESCRIBE TABLE diagnoses: %q", out)
		}
	})
	t.Run("no identity in what it reads", func(t *testing.T) {
		// Column names that would hold a patient's direct identifier: the
		// store has pseudonyms (*_key, *_pseudonym), year-months and
		// départements. (The staff names of audit_access and
		// dpi_updates_history are the analyst's filters' business:
		// TestClickHouseAnalystDeclared.)
		identity := regexp.MustCompile(`(?i)^(ins|nir|ipp|nom|prenom|family|given|name_.*|birth_?(date|time)|address|street|city|postcode|phone|email)$`)
		cols := analyst.mustRun(t, "SELECT table, name FROM system.columns WHERE database = 'default'")
		for _, line := range strings.Split(strings.TrimSpace(cols), "\n") {
			table, col, _ := strings.Cut(line, "\t")
			if identity.MatchString(col) {
				t.Errorf("%s.%s looks like an identity", table, col)
			}
		}
	})
	for _, tc := range []struct {
		name, query, want string
	}{
		{"INSERT", `INSERT INTO documents (finess, set_id, version_number) VALUES ('x', 'y', 1)`, "readonly"},
		{"CREATE TABLE", `CREATE TABLE mine (x UInt8) ENGINE = Memory`, "readonly"},
		{"CREATE TEMPORARY TABLE", `CREATE TEMPORARY TABLE mine (x UInt8)`, "readonly"},
		{"CREATE VIEW", `CREATE VIEW mine AS SELECT 1`, "readonly"},
		{"DROP TABLE", `DROP TABLE documents`, "readonly"},
		{"TRUNCATE", `TRUNCATE TABLE documents`, "readonly"},
		{"ALTER ADD COLUMN", `ALTER TABLE documents ADD COLUMN mine UInt8`, "readonly"},
		{"ALTER DELETE", `ALTER TABLE documents DELETE WHERE 1`, "readonly"},
		{"OPTIMIZE", `OPTIMIZE TABLE documents FINAL`, "readonly"},
		{"SET", `SET max_result_rows = 5`, "readonly"},
		{"SETTINGS clause", `SELECT count() FROM documents SETTINGS max_block_size = 77`, "readonly"},
		{"readonly lifted", `SET readonly = 0`, "readonly"},
		{"another database", `SELECT * FROM identities.patients`, "Access denied to database identities"},
		{"another database through a table function", fmt.Sprintf(`SELECT * FROM remote('127.0.0.1:%d', identities.patients)`, tcp), "readonly"},
		{"a file through a table function", `SELECT * FROM file('users.xml', 'TSV', 'l String')`, "readonly"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			out, err := analyst.run(tc.query)
			if err == nil {
				t.Fatalf("accepted: %q", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("refused, but not as expected (%q): %v", tc.want, err)
			}
		})
	}
	t.Run("refused: wrong password", func(t *testing.T) {
		wrong := analyst
		wrong.password = "not-it"
		if _, err := wrong.run("SELECT 1"); err == nil || !strings.Contains(err.Error(), "password") {
			t.Errorf("a wrong password: %v", err)
		}
	})
	// Nothing the refused statements tried changed the store.
	if got := strings.TrimSpace(admin.mustRun(t, "SELECT count() FROM documents")); got != "1" {
		t.Errorf("documents has %s rows after the refusals, want 1", got)
	}
	if got := strings.TrimSpace(admin.mustRun(t, "SELECT count() FROM identities.patients")); got != "1" {
		t.Errorf("identities.patients has %s rows after the refusals, want 1", got)
	}
}

// TestClickHouseAnalystDeclared checks, in every overlay, what 18.16 cannot
// run: the tables naming hub staff are filtered out for the analyst (row
// policies on 26.7), and every ClickHouse server container gets each
// password of the users file from Secret bndmr-clickhouse-users.
func TestClickHouseAnalystDeclared(t *testing.T) {
	for _, ov := range overlays(t) {
		objs := objects(t, ov)
		users := configMapValue(t, objs, "clickhouse", usersFileKey)
		var doc struct {
			Users struct {
				Analyst struct {
					Profile   string   `xml:"profile"`
					Databases []string `xml:"allow_databases>database"`
					Filters   struct {
						Default struct {
							Tables []struct {
								XMLName xml.Name
								Filter  string `xml:"filter"`
							} `xml:",any"`
						} `xml:"default"`
					} `xml:"databases"`
				} `xml:"analyst"`
			} `xml:"users"`
			Profiles struct {
				Analyst struct {
					Readonly string `xml:"readonly"`
				} `xml:"analyst"`
			} `xml:"profiles"`
		}
		if err := xml.Unmarshal([]byte(users), &doc); err != nil {
			t.Fatalf("%s: %s: %v", ov, usersFileKey, err)
		}
		a := doc.Users.Analyst
		if a.Profile != "analyst" || doc.Profiles.Analyst.Readonly != "1" {
			t.Errorf("%s: the analyst's profile is %q with readonly %q, want analyst with readonly 1", ov, a.Profile, doc.Profiles.Analyst.Readonly)
		}
		if strings.Join(a.Databases, ",") != "default" {
			t.Errorf("%s: the analyst may read databases %v, want default only", ov, a.Databases)
		}
		filtered := map[string]string{}
		for _, tb := range a.Filters.Default.Tables {
			filtered[tb.XMLName.Local] = strings.TrimSpace(tb.Filter)
		}
		for _, tb := range []string{"audit_access", "dpi_updates_history"} {
			if filtered[tb] != "0" {
				t.Errorf("%s: %s names hub staff: the analyst's filter on it is %q, want 0", ov, tb, filtered[tb])
			}
		}

		envs := fromEnv(t, users)
		servers := 0
		for _, w := range workloads(objs) {
			for _, ctr := range w.pod.Spec.Containers {
				if !strings.HasPrefix(ctr.Image, "clickhouse/clickhouse-server") {
					continue
				}
				servers++
				set := map[string]*corev1.EnvVarSource{}
				for _, e := range ctr.Env {
					set[e.Name] = e.ValueFrom
				}
				for _, name := range envs {
					src := set[name]
					if src == nil || src.SecretKeyRef == nil || src.SecretKeyRef.Name != "bndmr-clickhouse-users" {
						t.Errorf("%s: %s container %s: %s (a password of %s) does not come from Secret bndmr-clickhouse-users",
							ov, w.obj, ctr.Name, name, usersFileKey)
					}
				}
			}
		}
		if servers == 0 {
			t.Errorf("%s: no ClickHouse server container", ov)
		}
	}
}

// fromEnv lists the environment variables a ClickHouse users file reads its
// passwords from (from_env attributes).
func fromEnv(t *testing.T, users string) []string {
	t.Helper()
	var names []string
	for _, m := range regexp.MustCompile(`<password from_env="([A-Z0-9_]+)"\s*/>`).FindAllStringSubmatch(users, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatalf("%s reads no password from the environment", usersFileKey)
	}
	sort.Strings(names)
	return names
}

// clickhouseClient runs statements with clickhouse-client over the native
// protocol, as a user (default: the passwordless local default user).
type clickhouseClient struct {
	port           int
	user, password string
}

func (c clickhouseClient) run(query string) (string, error) {
	args := []string{"--host", "127.0.0.1", "--port", strconv.Itoa(c.port), "--query", query}
	if c.user != "" {
		args = append(args, "--user", c.user, "--password", c.password)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command("clickhouse-client", args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

func (c clickhouseClient) mustRun(t *testing.T, query string) string {
	t.Helper()
	out, err := c.run(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// applySchema runs the store's migrations (schemas/clickhouse), statement by
// statement, as the loader's first start would.
func applySchema(t *testing.T, c clickhouseClient) {
	t.Helper()
	files, err := filepath.Glob("../../schemas/clickhouse/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations under schemas/clickhouse: %v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sql []string
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				sql = append(sql, line)
			}
		}
		// A statement ends with ";" at the end of a line (a comment string
		// may hold one elsewhere).
		for _, st := range regexp.MustCompile(`;\s*\n`).Split(strings.Join(sql, "\n")+"\n", -1) {
			if strings.TrimSpace(st) != "" {
				c.mustRun(t, st)
			}
		}
	}
}
