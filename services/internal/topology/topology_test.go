package topology

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/bus/bustest"
	"github.com/bndmr/hub/pkg/chtest"
	"github.com/bndmr/hub/pkg/mailbox"
	"github.com/bndmr/hub/pkg/mailbox/mailboxtest"
	"github.com/bndmr/hub/pkg/store"
	"github.com/bndmr/hub/pkg/store/storetest"
	"github.com/bndmr/hub/pkg/synth/synthtest"
	"github.com/bndmr/hub/pkg/testsupport"
	"github.com/bndmr/hub/pkg/tlsclient"
	"github.com/bndmr/hub/services/internal/localenv"
)

const (
	hospital = "hospital@chu.test"
	// The all-in-one hub reads its own folders of this mailbox, over the
	// plain loopback IMAP port, as the other end-to-end tests do.
	hubUser = "hub2@bndmr.test"
	// Mails of the scenario: the size of the e2e test's, plus one refused.
	scenarioMails = 20
)

// site is what scripts/up-topology.sh wrote under .run/topology.
type site struct {
	dir       string
	root      string
	mailbox   mailbox.Config
	dsn       string
	natsURL   string
	provision string // the provisioner's password
	// provisionTLS: the CA and client certificate of the provisioning Job.
	provisionTLS bus.Config
	chTLS        tlsclient.Files // the loader's ClickHouse client certificate
	keyFile      string
	hubAddr      string
}

func loadSite(t *testing.T) site {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	// Set by `make test-topology`, which starts the topology first: the
	// module-wide `go test ./services/...` of `make test` leaves it alone.
	dir := os.Getenv("BNDMR_TOPOLOGY")
	if dir == "" {
		t.Skip("BNDMR_TOPOLOGY not set: run `make test-topology`, which starts the topology (.run/topology)")
	}
	if _, err := os.Stat(filepath.Join(dir, "processes")); err != nil {
		t.Fatalf("no topology under %s: scripts/up-topology.sh writes it", dir)
	}
	s := site{dir: dir, root: root, keyFile: filepath.Join(dir, "secrets", "pseudonymisation-key", "key-topo.json")}
	var mbs []mailbox.Config
	b, err := os.ReadFile(filepath.Join(dir, "instances", "ingest-0", "volumes", "mailboxes", "mailboxes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &mbs); err != nil || len(mbs) != 1 {
		t.Fatalf("mailboxes.json: %d mailboxes, %v", len(mbs), err)
	}
	s.mailbox = mbs[0]
	loader := envFile(t, filepath.Join(dir, "instances", "loader-0", "env"))
	ack := envFile(t, filepath.Join(dir, "instances", "ack-0", "env"))
	s.dsn, s.natsURL, s.hubAddr = loader["BNDMR_CLICKHOUSE"], loader["BNDMR_NATS_URL"], ack["BNDMR_HUB_ADDRESS"]
	s.provision = envFile(t, filepath.Join(dir, "nats-passwords.env"))["provisioner"]
	job := envFile(t, filepath.Join(dir, "instances", "nats-streams", "env"))
	s.provisionTLS = localenv.NATSTLS(job)
	s.chTLS = localenv.ClickHouseTLS(loader)
	return s
}

// envFile reads the KEY='value' lines localtopo writes.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	env, err := localenv.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// scenario makes the mails: synthetic hospital mails and one refused
// document, all from the hospital's mailbox (where the MDNs are read), with
// Message-IDs of this run so that nothing of an earlier run is counted.
func scenario(t *testing.T, run int64) (mails [][]byte, ids []string) {
	t.Helper()
	// A seed per run: the set ids are new, so the rows found are this run's.
	g := synthtest.Generator(t, uint64(run%1_000_000_007))
	for i := 0; i < scenarioMails; i++ {
		id := fmt.Sprintf("<topo.%d.%d@chu.test>", run, i)
		mails, ids = append(mails, synthtest.Next(t, g, hospital, id)), append(ids, id)
	}
	id := fmt.Sprintf("<topo.%d.ko@chu.test>", run)
	return append(mails, synthtest.KitMail(t, synthtest.Refused, hospital, "hub@bndmr.test", id)), append(ids, id)
}

func deliver(t *testing.T, mc mailbox.Config, folder string, mails [][]byte) {
	t.Helper()
	n, err := mailbox.Deliver(context.Background(), mc, folder, func(yield func([]byte) bool) {
		for _, m := range mails {
			if !yield(m) {
				return
			}
		}
	})
	if err != nil || n != len(mails) {
		t.Fatalf("delivered %d of %d mails to %s: %v", n, len(mails), folder, err)
	}
}

// TestTopology runs the scenario through the all-in-one hub, then through
// the production topology, and compares what each loaded and answered.
func TestTopology(t *testing.T) {
	s := loadSite(t)
	ctx := context.Background()
	run := time.Now().UnixNano()
	mails, ids := scenario(t, run)
	imapPlain := "127.0.0.1:10143"
	if v := os.Getenv("BNDMR_TEST_IMAP"); v != "" {
		imapPlain = v
	}
	chSingle := "clickhouse://127.0.0.1:19000/default"
	if v := os.Getenv("BNDMR_TEST_CLICKHOUSE"); v != "" {
		chSingle = v
	}
	smtpPlain := "127.0.0.1:10025"
	if v := os.Getenv("BNDMR_E2E_SMTP"); v != "" {
		smtpPlain = v
	}

	// 1. The all-in-one hub, on a database and folders of its own, with the
	// topology's pseudonymisation key and hub address.
	hubDSN, _ := chtest.DatabaseOn(t, chSingle, "topo_hub")
	hubMC := mailbox.Config{Name: "hub2", Addr: imapPlain, TLS: "none", User: hubUser, Password: mailboxtest.Password}
	folder := fmt.Sprintf("topo-hub%d", run)
	mailboxtest.Folders(t, hubMC.Addr, hubMC.User, folder, folder+"-done")
	deliver(t, hubMC, folder, mails)
	base := mailboxtest.UIDNext(t, imapPlain, hospital)
	start := time.Now()
	hub := exec.Command(filepath.Join(s.root, "bin", "hub"), "--data-dir", t.TempDir(), "--nats-port", "-1",
		"--http-addr", "127.0.0.1:0", "--indicators-addr", "127.0.0.1:0", "--auth", "none",
		"--imap-addr", imapPlain, "--imap-tls", "none", "--imap-user", hubUser, "--imap-password", "secret",
		"--imap-name", "hub2", "--imap-inbox", folder, "--imap-processed", folder+"-done", "--imap-poll", "300ms",
		"--pseudo-key-file", s.keyFile, "--clickhouse", hubDSN, "--log-level", "warn",
		"--smtp-addr", smtpPlain, "--smtp-tls", "none", "--hub-address", s.hubAddr, "--exit-when-idle", "1500ms")
	hub.Stderr = os.Stderr
	if err := hub.Run(); err != nil {
		t.Fatalf("all-in-one hub: %v", err)
	}
	hubMDNs := readMDNs(t, imapPlain, base, ids, 60*time.Second)
	t.Logf("all-in-one hub: %d mails drained in %s, %d MDNs", len(mails), time.Since(start).Round(100*time.Millisecond), len(hubMDNs))

	// 2. The topology: the mails into its mailbox over IMAPS with the client
	// certificate, as its ingest reads them.
	js, closeNATS := provisioner(t, s)
	defer closeNATS()
	mailsBefore := streamMsgs(t, js, bus.StreamMail)
	base = mailboxtest.UIDNext(t, imapPlain, hospital)
	topoStart := time.Now().UTC().Add(-time.Second)
	start = time.Now()
	deliver(t, s.mailbox, s.mailbox.Inbox, mails)
	waitDrained(t, s, js, 4*time.Minute)
	drained := time.Since(start)
	topoMDNs := readMDNs(t, imapPlain, base, ids, 60*time.Second)
	t.Logf("topology: %d mails drained in %s (MDNs read back after %s), %d MDNs", len(mails),
		drained.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond), len(topoMDNs))
	if n := streamMsgs(t, js, bus.StreamMail) - mailsBefore; n != uint64(len(mails)) {
		t.Errorf("BNDMR_MAIL got %d messages for %d mails (two ingest replicas on one mailbox must publish each mail once)", n, len(mails))
	}

	// 3. The same keys in ClickHouse.
	topo, err := store.OpenWith(ctx, s.dsn, store.Options{TLS: s.chTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close()
	hubSt, err := store.Open(ctx, hubDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer hubSt.Close()
	// Every mail has its receipt in the hub's own database. (The number of
	// sets is the generator's: successive mails may be versions of one set,
	// 8 to 12 sets for 20 mails, depending on the run's seed.)
	if got := storetest.Column(t, hubSt, "SELECT mail_id FROM receipts GROUP BY mail_id"); len(got) != len(mails) {
		t.Fatalf("the all-in-one hub has receipts for %d mails of %d", len(got), len(mails))
	}
	sets := storetest.Column(t, hubSt, "SELECT set_id FROM receipts WHERE set_id != '' GROUP BY set_id ORDER BY set_id")
	if len(sets) == 0 {
		t.Fatal("the all-in-one hub has receipts for no set")
	}
	in := "('" + strings.Join(sets, "','") + "')"
	tables := storetest.Column(t, hubSt, storetest.SetTablesSQL)
	keys := 0
	for _, table := range tables {
		q := storetest.KeysSQL(table, "set_id IN "+in, "processed_at >= %s")
		want := storetest.Column(t, hubSt, strings.Replace(q, "%s", "toDateTime(0)", 1))
		got := storetest.Column(t, topo, strings.Replace(q, "%s", fmt.Sprintf("toDateTime(%d)", topoStart.Unix()), 1))
		keys += len(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d keys in the topology, %d from the all-in-one hub\n%s", table, len(got), len(want), testsupport.Diff(want, got))
		}
	}
	t.Logf("ClickHouse: %d sets, %d tables, %d keys compared", len(sets), len(tables), keys)

	// 4. The same MDNs.
	if len(hubMDNs) != len(ids) {
		t.Errorf("the all-in-one hub answered %d of %d mails", len(hubMDNs), len(ids))
	}
	for _, id := range ids {
		h, tp := hubMDNs[id], topoMDNs[id]
		switch {
		case tp == nil:
			t.Errorf("no MDN from the topology for %s", id)
		case len(tp) > 1:
			t.Errorf("%d MDNs from the topology for %s", len(tp), id)
		case h != nil && normalise(h[0]) != normalise(tp[0]):
			t.Errorf("MDN for %s differs:\n%s", id, testsupport.Diff(strings.Split(normalise(h[0]), "\n"), strings.Split(normalise(tp[0]), "\n")))
		}
	}
	t.Logf("MDNs: %d from the hub, %d from the topology", len(hubMDNs), len(topoMDNs))
}

// readMDNs polls the hospital's INBOX, from UID base, until an MDN answers
// each id; it returns every MDN found per id (so duplicates show).
func readMDNs(t *testing.T, addr string, base imap.UID, ids []string, within time.Duration) map[string][]string {
	t.Helper()
	var found map[string][]string
	deadline := time.Now().Add(within)
	for {
		found = map[string][]string{}
		c := mailboxtest.Login(t, addr, hospital)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		section := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: base, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.UID < base { // "base:*" holds the last mail when none is newer
				continue
			}
			body := string(m.FindBodySection(section))
			for _, id := range ids {
				if strings.Contains(body, "Original-Message-ID: "+id) {
					found[id] = append(found[id], body)
				}
			}
		}
		if len(found) == len(ids) || time.Now().After(deadline) {
			return found
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var (
	boundaryRE = regexp.MustCompile(`boundary="?([^";\r\n]+)"?`)
	// "Reçu le : 01/12/2026 à 11:13:49" in the quoted-printable text part.
	whenRE = regexp.MustCompile(`\d{2}/\d{2}/\d{4} (=C3=A0|à) \d{2}:\d{2}(:\d{2})?`)
)

// normalise keeps what the hospital reads in an MDN, without what differs
// between two sendings of the same answer: its date, its Message-ID, the MIME
// boundary, the relay's trace headers, and the times of reception and
// processing the text gives.
func normalise(raw string) string {
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return "unreadable MDN: " + err.Error()
	}
	var b strings.Builder
	for _, h := range []string{"From", "To", "Subject", "In-Reply-To", "References", "Auto-Submitted", "Content-Type"} {
		v := msg.Header.Get(h)
		if h == "Subject" {
			if dec, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
				v = dec
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", h, v)
	}
	body := new(strings.Builder)
	bufio.NewReader(msg.Body).WriteTo(body)
	text := body.String()
	if m := boundaryRE.FindStringSubmatch(msg.Header.Get("Content-Type")); m != nil {
		text = strings.ReplaceAll(text, m[1], "BOUNDARY")
	}
	text = whenRE.ReplaceAllString(text, "DD/MM/YYYY à HH:MM:SS")
	return strings.ReplaceAll(boundaryRE.ReplaceAllString(b.String(), `boundary="BOUNDARY"`)+text, "\r\n", "\n")
}

// provisioner connects as the provisioning Job's user: it may read the
// state of the streams and consumers (not of the identified stream's
// consumers, only its message count).
func provisioner(t *testing.T, s site) (jetstream.JetStream, func()) {
	t.Helper()
	c := s.provisionTLS
	c.URL, c.User, c.Password = s.natsURL, "provisioner", s.provision
	nc, js, err := bus.Connect(context.Background(), c, "topology-test")
	if err != nil {
		t.Fatal(err)
	}
	return js, nc.Close
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	if info.Config.Replicas != 3 {
		t.Errorf("stream %s has %d replicas, want 3", stream, info.Config.Replicas)
	}
	return info.State.Msgs
}

// waitDrained waits until the mailbox is empty and no consumer holds a
// pending or unacknowledged message, continuously for two seconds.
func waitDrained(t *testing.T, s site, js jetstream.JetStream, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	var idleSince time.Time
	var why string
	for time.Now().Before(deadline) {
		why = busy(ctx, s, js)
		switch {
		case why != "":
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = time.Now()
		case time.Since(idleSince) >= 2*time.Second:
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("topology not drained after %s: %s", within, why)
}

func busy(ctx context.Context, s site, js jetstream.JetStream) string {
	if n, err := mailbox.Waiting(ctx, s.mailbox); err != nil || n > 0 {
		return fmt.Sprintf("%d mails in %s (%v)", n, s.mailbox.Inbox, err)
	}
	return bustest.Pending(ctx, js)
}
