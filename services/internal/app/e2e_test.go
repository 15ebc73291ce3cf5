package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/synth"
	"github.com/bndmr/hub/pkg/synth/synthtest"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pseudonymisation"
)

// e2e is one end-to-end setting: a folder of its own in Dovecot, a database
// of its own in ClickHouse, generated mails delivered, a key file.
type e2e struct {
	imapAddr, inbox, dsn, keyFile, dataDir string
	docs                                   []synth.Document
	st                                     *store.Store
}

func newE2E(t *testing.T, seed uint64, count int, extra ...[]byte) *e2e {
	t.Helper()
	return newE2EOn(t, chtest.DSN(t), seed, count, extra...)
}

// newE2EOn is newE2E on the ClickHouse server chDSN (database default).
func newE2EOn(t *testing.T, chDSN string, seed uint64, count int, extra ...[]byte) *e2e {
	t.Helper()
	imapAddr := testsupport.Env(t, "BNDMR_TEST_IMAP", "Dovecot")
	ctx := context.Background()
	e := &e2e{imapAddr: imapAddr, inbox: fmt.Sprintf("e2e%d", time.Now().UnixNano()), dataDir: t.TempDir()}

	var err error
	e.dsn, _ = chtest.DatabaseOn(t, chDSN, "e2e")
	if e.st, err = store.Open(ctx, e.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })

	e.keyFile = filepath.Join(t.TempDir(), "key.json")
	if err := pseudonymisation.WriteKeyFile(e.keyFile, "e2e-key"); err != nil {
		t.Fatal(err)
	}
	g := synthtest.Generator(t, seed)
	var mails [][]byte
	for i := 0; i < count; i++ {
		m, d, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		mails = append(mails, m)
		e.docs = append(e.docs, d)
	}
	mails = append(mails, extra...)
	mc := e.mailbox()
	mailboxtest.Folders(t, imapAddr, mc.User, e.inbox, e.inbox+"-done")
	n, err := mailbox.Deliver(ctx, mc, e.inbox, func(yield func([]byte) bool) {
		for _, m := range mails {
			if !yield(m) {
				return
			}
		}
	})
	if err != nil || n != len(mails) {
		t.Fatalf("delivered %d of %d: %v", n, len(mails), err)
	}
	return e
}

func (e *e2e) mailbox() mailbox.Config {
	return mailbox.Config{Name: "hub2", Addr: e.imapAddr, TLS: "none", User: "hub2@bndmr.test", Password: mailboxtest.Password, Inbox: e.inbox}
}

func (e *e2e) args(extra ...string) []string {
	return append([]string{"--data-dir", e.dataDir, "--nats-port", "-1", "--http-addr", "127.0.0.1:0", "--indicators-addr", "127.0.0.1:0", "--auth", "none",
		"--imap-addr", e.imapAddr, "--imap-tls", "none", "--imap-user", "hub2@bndmr.test", "--imap-password", "secret",
		"--imap-name", "hub2", "--imap-inbox", e.inbox, "--imap-processed", e.inbox + "-done", "--imap-poll", "300ms",
		"--pseudo-key-file", e.keyFile, "--clickhouse", e.dsn, "--log-level", "warn"}, extra...)
}

func (e *e2e) count(t *testing.T, query string) uint64 {
	t.Helper()
	var n uint64
	if err := e.st.Conn().QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// checkLoaded asserts every generated document is in ClickHouse exactly
// once, with its ids, version and FINESS, pseudonymised, and that no
// identity of the generated patients appears in any column.
func (e *e2e) checkLoaded(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := e.st.Conn().Exec(ctx, "OPTIMIZE TABLE documents FINAL"); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "SELECT count() FROM documents"); n != uint64(len(e.docs)) {
		t.Errorf("%d rows in documents after merge, want %d (one per generated document)", n, len(e.docs))
	}
	rows, err := e.st.Conn().Query(ctx, `SELECT set_id, version_number, finess, patient_ins_pseudonym, patient_traits_pseudonym, key_id FROM documents`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ finess, ins, traits, key string }
	got := map[string]row{}
	for rows.Next() {
		var set, finess, ins, traits, key string
		var v uint32
		if err := rows.Scan(&set, &v, &finess, &ins, &traits, &key); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s/%d", set, v)] = row{finess, ins, traits, key}
	}
	rows.Close()
	pseudoOfSet := map[string]string{}
	for _, d := range e.docs {
		r, ok := got[fmt.Sprintf("%s/%d", d.SetID, d.VersionNumber)]
		if !ok {
			t.Errorf("%s: set %s version %d not loaded", d.File, d.SetID, d.VersionNumber)
			continue
		}
		if r.finess != d.FINESS || r.key != "e2e-key" {
			t.Errorf("%s: row %+v (want FINESS %s, key e2e-key)", d.File, r, d.FINESS)
		}
		if d.Opposition != (r.ins == "" && r.traits == "") || (!d.Opposition && (len(r.ins) < 32 || len(r.traits) < 32)) {
			t.Errorf("%s: opposition=%v but pseudonyms %q / %q (both expected unless the patient opposes)", d.File, d.Opposition, r.ins, r.traits)
		}
		if p, ok := pseudoOfSet[d.SetID]; ok && p != r.ins {
			t.Errorf("%s: the versions of set %s carry different patient pseudonyms", d.File, d.SetID)
		}
		pseudoOfSet[d.SetID] = r.ins
	}
	// Every column of every row of every table, as text: no identity may be there.
	// Short codes (a commune is five characters) are looked for in text
	// columns only: a byte count or a hash may hold the same digits.
	var dump, strs strings.Builder
	tables, err := e.st.Conn().Query(ctx, `SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		if err := tables.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	tables.Close()
	if len(names) < 5 {
		t.Fatalf("only %d tables in the database: %v", len(names), names)
	}
	for _, table := range names {
		rows, err := e.st.Conn().Query(ctx, "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for rows.Next() {
			vals := make([]any, len(rows.Columns()))
			for i, ct := range rows.ColumnTypes() {
				vals[i] = newScan(ct.ScanType())
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			for i, v := range vals {
				fmt.Fprintf(&dump, "%v\t", deref(v))
				if strings.Contains(rows.ColumnTypes()[i].DatabaseTypeName(), "String") {
					fmt.Fprintf(&strs, "%v\t", deref(v))
				}
			}
			dump.WriteByte('\n')
			strs.WriteByte('\n')
		}
		rows.Close()
	}
	all, text := strings.ToUpper(dump.String()), strings.ToUpper(strs.String())
	for _, d := range e.docs {
		// The establishment is stored in clear: finding it proves the dump is read.
		if !synth.ContainsToken(text, d.FINESS) {
			t.Errorf("%s: FINESS %s not found in the text columns of the store", d.File, d.FINESS)
		}
		for _, c := range []struct{ what, value, in string }{
			{"INS", d.INS, all}, {"IPP", d.IPP, all}, {"family name", d.Family, all}, {"given name", d.Given, all},
			{"street", d.Street, all}, {"birth date", d.BirthTime, all}, {"residence commune", d.Residence.Code, text},
		} {
			if synth.ContainsToken(c.in, strings.ToUpper(c.value)) {
				t.Errorf("%s: the %s %q of the generated patient appears in ClickHouse", d.File, c.what, c.value)
			}
		}
	}
}

func waitMailboxEmpty(t *testing.T, e *e2e, want int) {
	t.Helper()
	c := mailboxtest.Login(t, e.imapAddr, e.mailbox().User)
	defer c.Close()
	for _, f := range []struct {
		name string
		want uint32
	}{{e.inbox, 0}, {e.inbox + "-done", uint32(want)}} {
		st, err := c.Status(f.name, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages != f.want {
			t.Errorf("%s holds %d messages, want %d", f.name, *st.NumMessages, f.want)
		}
	}
}

func TestEndToEndMailboxToClickHouse(t *testing.T) {
	e := newE2E(t, 11, 30)
	if code := HubMain(e.args("--exit-when-idle", "1500ms")); code != 0 {
		t.Fatalf("hub exited with %d", code)
	}
	waitMailboxEmpty(t, e, len(e.docs))
	e.checkLoaded(t)
}

// TestEndToEndSurvivesKill kills the hub (SIGKILL) in the middle of a run,
// starts it again, and checks that no mail was lost and no document loaded
// twice. A kill that comes after the hub finished proves nothing: the test
// then tries again on fresh mails with an earlier kill, and fails if it
// never catches the hub mid-run.
func TestEndToEndSurvivesKill(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hub")
	build := exec.Command("go", "build", "-o", bin, "../../hub")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the hub: %v\n%s", err, out)
	}
	for i, killAt := range []uint64{10, 3, 1} {
		e := newE2E(t, 12+uint64(i), 80)
		if !killMidRun(t, bin, e, killAt) {
			t.Logf("attempt %d: the hub had loaded everything before the kill; again with an earlier kill", i+1)
			continue
		}
		second := exec.Command(bin, e.args("--exit-when-idle", "1500ms")...)
		second.Stderr = os.Stderr
		if err := second.Run(); err != nil {
			t.Fatalf("restarted hub: %v", err)
		}
		waitMailboxEmpty(t, e, len(e.docs))
		e.checkLoaded(t)
		return
	}
	t.Fatal("the hub finished before every kill: resume after a kill was not tested")
}

// killMidRun starts the hub, kills it once killAt documents are loaded, and
// reports whether work was left for a restart.
func killMidRun(t *testing.T, bin string, e *e2e, killAt uint64) bool {
	t.Helper()
	// Batches of 5: the mails that pile up while the loader migrates the
	// fresh database would otherwise go in as one insert, and no kill could
	// fall between two.
	first := exec.Command(bin, e.args("--loader-batch", "5")...)
	first.Stderr = os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var n uint64
		_ = e.st.Conn().QueryRow(context.Background(), "SELECT count() FROM documents").Scan(&n)
		if n >= killAt {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	loaded := e.count(t, "SELECT uniqExact(set_id, version_number) FROM documents")
	receipts := e.count(t, "SELECT uniqExact(mail_id) FROM receipts")
	t.Logf("killed with %d of %d documents and %d receipts loaded", loaded, len(e.docs), receipts)
	return loaded < uint64(len(e.docs)) || receipts < uint64(len(e.docs))
}
