package jsbackup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/topology"
)

// hubServer starts an embedded server as the hub runs it (store encrypted
// at rest) in dir, with the hub's streams when declare is set.
func hubServer(t *testing.T, dir, key string, declare bool) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv, err := bus.StartEmbedded(bus.EmbeddedConfig{Port: -1, StoreDir: dir, StoreKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, js, err := bus.Connect(ctx, bus.Config{URL: srv.ClientURL()}, "jsbackup-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if declare {
		if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	return nc, js
}

// consumer returns the hub's durable consumer, with a short ack wait so
// that a delivered, unacknowledged message comes back within the test.
func consumer(t *testing.T, ctx context.Context, js jetstream.JetStream, c topology.Consumer) jetstream.Consumer {
	t.Helper()
	cons, err := js.CreateOrUpdateConsumer(ctx, c.Stream, jetstream.ConsumerConfig{Durable: c.Durable, FilterSubject: c.Subject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return cons
}

// fetchIDs fetches up to n messages and returns their Nats-Msg-Id, acking
// the first ack of them (a message redelivered during the fetch, its ack
// wait being short, is counted once).
func fetchIDs(t *testing.T, cons jetstream.Consumer, n, ack int) []string {
	t.Helper()
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	seen := map[string]bool{}
	for m := range batch.Messages() {
		id := m.Headers().Get(nats.MsgIdHdr)
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
		if len(ids) <= ack {
			if err := m.DoubleAck(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if batch.Error() != nil {
		t.Fatal(batch.Error())
	}
	return ids
}

// TestBackupRestoreKeepsPending: messages, consumer positions and buckets
// of a hub store come back in an empty server; what was pending is
// delivered again there, what was acknowledged is not.
func TestBackupRestoreKeepsPending(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, js := hubServer(t, t.TempDir(), "source-store-key-0123456789abcdef", true)

	for i := range 6 {
		id := fmt.Sprintf("mail-%d", i)
		if _, err := bus.Publish(ctx, js, topology.SubjectMailRaw, id, map[string]string{"n": id}); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Publish(ctx, js, topology.SubjectOutcome, "outcome-"+id, map[string]string{"n": id}); err != nil {
			t.Fatal(err)
		}
	}
	// A large mail in the object store and an MDN recorded as sent.
	obj, err := js.ObjectStore(ctx, bus.ObjectStore)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("MIME line of a large mail\r\n", 20000) // several snapshot chunks
	if _, err := obj.PutString(ctx, "mail-big", big); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, bus.BucketMDNSent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutString(ctx, "mid-1", "sent"); err != nil {
		t.Fatal(err)
	}

	// validator: 2 acknowledged, 1 delivered and not acknowledged, 3 never
	// delivered. ack: 4 acknowledged; loader-receipts: created, untouched.
	validator := consumer(t, ctx, js, topology.ConsumerOf(topology.DurableValidator))
	if got := fetchIDs(t, validator, 3, 2); len(got) != 3 {
		t.Fatalf("fetched %v", got)
	}
	ack := consumer(t, ctx, js, topology.ConsumerOf(topology.DurableAck))
	fetchIDs(t, ack, 4, 4)
	consumer(t, ctx, js, topology.ConsumerOf(topology.DurableReceipts))

	before, err := Describe(ctx, js, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "nats")
	man, err := BackupAll(ctx, nc, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Streams) != len(before) {
		t.Fatalf("backup holds %d streams, the server %d", len(man.Streams), len(before))
	}
	// What the source still has to do, read after the backup.
	wantValidator := fetchIDs(t, validator, 10, 0)

	nc2, js2 := hubServer(t, t.TempDir(), "another-store-key-0123456789abcdef", false)
	if _, err := RestoreAll(ctx, nc2, dir, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	after, err := Describe(ctx, js2, true)
	if err != nil {
		t.Fatal(err)
	}
	if Format(before) != Format(after) {
		t.Fatalf("restored state differs:\nbefore:\n%safter:\n%s", Format(before), Format(after))
	}
	for _, s := range after {
		if s.Stream == topology.StreamMail {
			if len(s.Consumers) != 1 || s.Consumers[0].Unhandled() != 4 || s.Consumers[0].AckFloor != 2 {
				t.Errorf("validator after restore: %+v, want 4 unhandled over ack floor 2", s.Consumers)
			}
		}
	}

	// The restored consumer delivers exactly what the source still had to
	// (the unacknowledged one once its ack wait has passed), and the
	// buckets hold their values.
	time.Sleep(1100 * time.Millisecond)
	rv, err := js2.Consumer(ctx, topology.StreamMail, topology.DurableValidator)
	if err != nil {
		t.Fatal(err)
	}
	gotValidator := fetchIDs(t, rv, 10, 0)
	sort.Strings(wantValidator)
	sort.Strings(gotValidator)
	if strings.Join(gotValidator, ",") != "mail-2,mail-3,mail-4,mail-5" || strings.Join(gotValidator, ",") != strings.Join(wantValidator, ",") {
		t.Errorf("restored validator delivers %v, source %v, want mail-2..mail-5", gotValidator, wantValidator)
	}
	kv2, err := js2.KeyValue(ctx, bus.BucketMDNSent)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv2.Get(ctx, "mid-1"); err != nil || string(e.Value()) != "sent" {
		t.Errorf("MDN bucket after restore: %v %v", e, err)
	}
	obj2, err := js2.ObjectStore(ctx, bus.ObjectStore)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := obj2.GetString(ctx, "mail-big"); err != nil || s != big {
		t.Errorf("large mail after restore: %d bytes, %v", len(s), err)
	}

	// A second restore into the same server is refused before anything is
	// written, naming the stream.
	if _, err := RestoreAll(ctx, nc2, dir, RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("restore over existing streams: %v, want a refusal", err)
	}
}

// TestDamagedBackupRefused: a snapshot file changed or missing, or a folder
// without manifest, is refused before any restore.
func TestDamagedBackupRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js := hubServer(t, t.TempDir(), "", true)
	if _, err := bus.Publish(ctx, js, topology.SubjectMailRaw, "m", map[string]string{"n": "m"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "nats")
	if _, err := BackupAll(ctx, nc, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := BackupAll(ctx, nc, dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("backup into a used folder: %v", err)
	}
	snap := filepath.Join(dir, topology.StreamMail+".snapshot")
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(snap, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("flipped byte: %v, want damaged", err)
	}
	os.Remove(snap)
	if _, err := ReadManifest(dir); err == nil {
		t.Error("missing snapshot accepted")
	}
	os.Remove(filepath.Join(dir, ManifestFile))
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("no manifest: %v", err)
	}
}

// TestBackupUserPermissions: a user with only BackupPermissions takes and
// restores a snapshot; without them, the server refuses.
func TestBackupUserPermissions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func() *server.Server {
		opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Users: []*server.User{
				{Username: "backup", Password: "b", Permissions: &server.Permissions{
					Publish:   &server.SubjectPermission{Allow: BackupPublish},
					Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_backup.>"}},
				}},
				{Username: "other", Password: "o", Permissions: &server.Permissions{
					Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.*"}},
					Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_other.>"}},
				}},
				{Username: "admin", Password: "a"},
			}}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("not ready")
		}
		t.Cleanup(s.Shutdown)
		return s
	}
	conn := func(s *server.Server, user, pw string) (*nats.Conn, jetstream.JetStream) {
		nc, js, err := bus.Connect(ctx, bus.Config{URL: s.ClientURL(), User: user, Password: pw}, user)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc, js
	}
	src := start()
	_, ajs := conn(src, "admin", "a")
	if err := bus.EnsureStreams(ctx, ajs, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, ajs, topology.SubjectMailRaw, "m", map[string]string{"n": "m"}); err != nil {
		t.Fatal(err)
	}
	onc, _ := conn(src, "other", "o")
	octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
	if _, _, err := Snapshot(octx, onc, topology.StreamMail, new(strings.Builder)); err == nil {
		t.Error("a user without the snapshot permission took a snapshot")
	}
	ocancel()

	bnc, _ := conn(src, "backup", "b")
	dir := filepath.Join(t.TempDir(), "nats")
	if _, err := BackupAll(ctx, bnc, dir); err != nil {
		t.Fatalf("backup user: %v", err)
	}
	dst := start()
	bnc2, _ := conn(dst, "backup", "b")
	if _, err := RestoreAll(ctx, bnc2, dir, RestoreOptions{}); err != nil {
		t.Fatalf("backup user restoring: %v", err)
	}
	_, bjs2 := conn(dst, "admin", "a")
	st, err := Describe(ctx, bjs2, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(Format(st), "stream BNDMR_MAIL messages=1 ") {
		t.Errorf("restored by the backup user:\n%s", Format(st))
	}
}

// TestBackupPermissionsAreDeployed: the user "backup" of the deployed
// NATS configuration is granted exactly BackupPublish, which
// TestBackupUserPermissions proves sufficient.
func TestBackupPermissionsAreDeployed(t *testing.T) {
	conf := filepath.Join("..", "..", "deploy", "k8s", "base", "nats", "auth.conf")
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$(NATS_PASSWORD_\w+)`).FindAllStringSubmatch(string(data), -1) {
		t.Setenv(m[1], "x")
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range opts.Users {
		if u.Username != "backup" {
			continue
		}
		if !reflect.DeepEqual(u.Permissions.Publish.Allow, BackupPublish) || u.Permissions.Publish.Deny != nil {
			t.Errorf("%s grants backup publish %v (deny %v), want %v", conf, u.Permissions.Publish.Allow, u.Permissions.Publish.Deny, BackupPublish)
		}
		if !reflect.DeepEqual(u.Permissions.Subscribe.Allow, []string{"_INBOX_backup.>"}) {
			t.Errorf("%s: backup subscribes to %v, want its inbox only", conf, u.Permissions.Subscribe.Allow)
		}
		return
	}
	t.Errorf("%s has no user backup", conf)
}
