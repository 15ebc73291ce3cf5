package k8s_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"

	"github.com/bndmr/hub/deploy/k8s/localtopo"
	"github.com/bndmr/hub/pkg/topology"
)

// The NATS users of auth.conf, and the environment variable that carries
// each one's password into the NATS pod.
var natsUsers = []string{"provisioner", "ingest", "validator", "pseudonymisation", "loader", "ack", "indicators", "operator", "erasure", "backup"}

func passwordEnv(user string) string { return "NATS_PASSWORD_" + strings.ToUpper(user) }

// natsTLSMount is where the NATS pod mounts Secret bndmr-nats-tls.
const natsTLSMount = "/etc/nats-tls"

// natsPKI is the folder of the test Secrets of the configuration conf.
func natsPKI(conf string) string { return filepath.Join(filepath.Dir(conf), "secrets") }

// natsCreds is what a test client needs: the users' passwords and the
// folder of the test TLS Secrets (the CA, each user's certificate).
type natsCreds struct {
	pw  map[string]string
	pki string
}

// tlsOptions are the options of user's connection with its certificate.
func (c natsCreds) tlsOptions(user string) []nats.Option {
	d := filepath.Join(c.pki, localtopo.SecretNATSClientTLS)
	return []nats.Option{nats.RootCAs(filepath.Join(d, "ca.crt")),
		nats.ClientCert(filepath.Join(d, user+".crt"), filepath.Join(d, user+".key"))}
}

// natsConfig writes the rendered nats ConfigMap of overlay into a folder and
// returns the path of nats.conf, with the passwords in the environment as
// the pod would have them (the shape docs/operations.md generates), and the
// TLS Secrets made by a test authority in natsPKI(conf), where the
// configuration's paths under the Secret's mount now point.
func natsConfig(t *testing.T, overlay string) (string, map[string]string) {
	t.Helper()
	var cm *corev1.ConfigMap
	for _, o := range objects(t, overlay) {
		if c, ok := o.Value.(*corev1.ConfigMap); ok && strings.HasPrefix(c.Name, "nats-") {
			cm = c
		}
	}
	if cm == nil {
		t.Fatalf("%s: nats ConfigMap not rendered", overlay)
	}
	dir := t.TempDir()
	secrets, err := localtopo.TestPKI(natsPKI(filepath.Join(dir, "nats.conf")), natsUsers, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range cm.Data {
		body = strings.ReplaceAll(body, natsTLSMount+"/", secrets[localtopo.SecretNATSTLS]+"/")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("POD_NAME", "nats-0")
	t.Setenv("NATS_STORE_KEY", "test-store-key-0123456789abcdef0123")
	pw := map[string]string{}
	for _, u := range natsUsers {
		b := make([]byte, 24)
		rand.Read(b)
		pw[u] = "p" + hex.EncodeToString(b)
		t.Setenv(passwordEnv(u), pw[u])
	}
	return filepath.Join(dir, "nats.conf"), pw
}

// TestNATSConfigsParse: each overlay's NATS configuration is accepted by
// the server, every user has the password from its own variable, and prod
// carries exactly dev's permissions plus its cluster of three.
func TestNATSConfigsParse(t *testing.T) {
	perms := map[string]map[string]*server.Permissions{}
	for _, ov := range overlays(t) {
		conf, pw := natsConfig(t, ov)
		opts, err := server.ProcessConfigFile(conf)
		if err != nil {
			t.Fatalf("%s: %v", ov, err)
		}
		if !opts.JetStream || opts.MaxPayload < 4<<20+64<<10 {
			t.Errorf("%s: JetStream %v, max_payload %d: the bus needs JetStream and 4 MiB messages", ov, opts.JetStream, opts.MaxPayload)
		}
		perms[ov] = map[string]*server.Permissions{}
		for _, u := range opts.Users {
			if u.Password != pw[u.Username] {
				t.Errorf("%s: user %s does not take its password from %s", ov, u.Username, passwordEnv(u.Username))
			}
			perms[ov][u.Username] = u.Permissions
		}
		if len(opts.Users) != len(natsUsers) {
			t.Errorf("%s: %d NATS users, want %d", ov, len(opts.Users), len(natsUsers))
		}
		if ov == "prod" {
			if opts.Cluster.Name == "" || len(opts.Routes) != 3 {
				t.Errorf("prod: cluster %q with %d routes, want 3", opts.Cluster.Name, len(opts.Routes))
			}
		}
	}
	if !reflect.DeepEqual(perms["dev"], perms["prod"]) {
		t.Error("dev and prod NATS permissions differ: both must include the same auth.conf")
	}
}

// natsServer runs the dev overlay's NATS configuration in this process, on
// loopback ports.
func natsServer(t *testing.T) (*server.Server, natsCreds) {
	t.Helper()
	conf, pw := natsConfig(t, "dev")
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	return startLoopbackNATS(t, opts), natsCreds{pw: pw, pki: natsPKI(conf)}
}

// startLoopbackNATS starts the server of a rendered configuration on a free
// loopback port, without monitoring, its store in a folder of the test's;
// it stops when the test ends.
func startLoopbackNATS(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.StoreDir = t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// client is one service's connection, with the permission errors the
// server sent it.
type client struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream
	mu   sync.Mutex
	errs []string
	got  chan struct{}
}

func connect(t *testing.T, s *server.Server, cr natsCreds, user string) *client {
	t.Helper()
	c := &client{user: user, got: make(chan struct{}, 100)}
	nc, err := nats.Connect(s.ClientURL(), append(cr.tlsOptions(user),
		nats.UserInfo(user, cr.pw[user]),
		nats.CustomInboxPrefix("_INBOX_"+user),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.errs = append(c.errs, err.Error())
			c.mu.Unlock()
			c.got <- struct{}{}
		}))...)
	if err != nil {
		t.Fatalf("%s: connecting: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// denied reports whether the server answered a permission violation naming
// subject within wait.
func (c *client) denied(subject string, wait time.Duration) bool {
	deadline := time.After(wait)
	for {
		c.mu.Lock()
		for _, e := range c.errs {
			if strings.Contains(strings.ToLower(e), "permissions violation") && strings.Contains(e, `"`+subject+`"`) {
				c.mu.Unlock()
				return true
			}
		}
		c.mu.Unlock()
		select {
		case <-c.got:
		case <-deadline:
			return false
		}
	}
}

func (c *client) mustNotPublish(t *testing.T, subject string) {
	t.Helper()
	if err := c.nc.Publish(subject, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	c.nc.Flush()
	if !c.denied(subject, 5*time.Second) {
		t.Errorf("user %s may publish to %s", c.user, subject)
	}
}

func (c *client) mustNotSubscribe(t *testing.T, subject string) {
	t.Helper()
	sub, err := c.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	c.nc.Flush()
	if !c.denied(subject, 5*time.Second) {
		t.Errorf("user %s may subscribe to %s", c.user, subject)
	}
}

func (c *client) noViolation(t *testing.T) {
	t.Helper()
	c.nc.Flush()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		t.Errorf("user %s: %s", c.user, e)
	}
}

// consume creates the service's durable consumer and takes one message.
func (c *client) consume(t *testing.T, ctx context.Context, stream, filter string) jetstream.Msg {
	t.Helper()
	return c.consumeAs(t, ctx, c.user, stream, filter)
}

// consumeAs is consume with a durable named otherwise than the user.
func (c *client) consumeAs(t *testing.T, ctx context.Context, durable, stream, filter string) jetstream.Msg {
	t.Helper()
	cfg := jetstream.ConsumerConfig{Durable: durable, FilterSubject: filter, AckPolicy: jetstream.AckExplicitPolicy}
	opts := []jetstream.FetchOpt{jetstream.FetchMaxWait(5 * time.Second)}
	// A pinned consumer (the loader's records) as pkg/stage configures and
	// fetches it, and hands it over when it stops.
	pinned := false
	for _, d := range topology.Consumers {
		pinned = pinned || d.Durable == durable && d.Stream == stream && d.Pinned
	}
	if pinned {
		cfg.PriorityPolicy, cfg.PriorityGroups, cfg.PinnedTTL = jetstream.PriorityPolicyPinned, []string{topology.PinnedGroup}, topology.PinnedTTL
		opts = append(opts, jetstream.FetchPriorityGroup(topology.PinnedGroup))
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		t.Fatalf("%s: creating its consumer on %s: %v", c.user, stream, err)
	}
	batch, err := cons.Fetch(1, opts...)
	if err != nil {
		t.Fatalf("%s: fetching from %s: %v", c.user, stream, err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("%s: acking %s: %v", c.user, stream, err)
		}
		if pinned {
			st, err := c.js.Stream(ctx, stream)
			if err == nil {
				err = st.UnpinConsumer(ctx, durable, topology.PinnedGroup)
			}
			if err != nil {
				t.Fatalf("%s: handing its pinned consumer on %s over: %v", c.user, stream, err)
			}
		}
		return m
	}
	t.Fatalf("%s: no message on %s (%v)", c.user, stream, batch.Error())
	return nil
}

// TestNATSPermissions runs the hub's flow through a real NATS server
// configured by the dev overlay, each step as the service that does it, then
// checks what each user must not be able to do.
func TestNATSPermissions(t *testing.T) {
	s, pw := natsServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := map[string]*client{}
	for _, u := range natsUsers {
		cl[u] = connect(t, s, pw, u)
	}

	// provisioner: the streams, object store and KV bucket (as pkg/bus lays them out).
	prov := cl["provisioner"].js
	provisionStreams(t, ctx, prov)
	if _, err := prov.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "BNDMR_MAILOBJ"}); err != nil {
		t.Fatalf("provisioner: object store: %v", err)
	}
	if _, err := prov.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "BNDMR_MDN_SENT"}); err != nil {
		t.Fatalf("provisioner: KV: %v", err)
	}
	if _, err := prov.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: topology.BucketLeases, TTL: topology.LeaseTTL, History: 1}); err != nil {
		t.Fatalf("provisioner: leases KV: %v", err)
	}

	// ingest: a mail, and a large one into the object store.
	ing := cl["ingest"]
	if _, err := ing.js.Publish(ctx, "bndmr.mail.raw", []byte(`{"mail":1}`), jetstream.WithMsgID("m1")); err != nil {
		t.Fatalf("ingest: publishing a mail: %v", err)
	}
	big := make([]byte, 300<<10)
	obs, err := ing.js.ObjectStore(ctx, "BNDMR_MAILOBJ")
	if err != nil {
		t.Fatalf("ingest: object store: %v", err)
	}
	if _, err := obs.PutBytes(ctx, "m2", big); err != nil {
		t.Fatalf("ingest: storing a large mail: %v", err)
	}

	// validator: reads the mail (and the large one), writes identified
	// data, the outcome and a quarantine entry.
	val := cl["validator"]
	val.consume(t, ctx, "BNDMR_MAIL", "bndmr.mail.raw")
	vobs, err := val.js.ObjectStore(ctx, "BNDMR_MAILOBJ")
	if err != nil {
		t.Fatalf("validator: object store: %v", err)
	}
	if b, err := vobs.GetBytes(ctx, "m2"); err != nil || len(b) != len(big) {
		t.Fatalf("validator: reading a large mail: %d bytes, %v", len(b), err)
	}
	for _, subj := range []string{"bndmr.identified.sdmmr.extracted", "bndmr.mail.outcome", "bndmr.mail.quarantine"} {
		if _, err := val.js.Publish(ctx, subj, []byte(`{}`)); err != nil {
			t.Fatalf("validator: publishing %s: %v", subj, err)
		}
	}

	// pseudonymisation: the only reader of identified data.
	ps := cl["pseudonymisation"]
	ps.consume(t, ctx, "BNDMR_IDENTIFIED", "bndmr.identified.sdmmr.extracted")
	for _, subj := range []string{"bndmr.sdmmr.record", "bndmr.mail.quarantine"} {
		if _, err := ps.js.Publish(ctx, subj, []byte(`{}`)); err != nil {
			t.Fatalf("pseudonymisation: publishing %s: %v", subj, err)
		}
	}

	// loader, ack, indicators.
	cl["loader"].consume(t, ctx, "BNDMR_RECORD", "bndmr.sdmmr.record")
	// The loader's second durable: the outcomes, into the receipts table.
	cl["loader"].consumeAs(t, ctx, "loader-receipts", "BNDMR_OUTCOME", "bndmr.mail.outcome")
	// The loader's lease (pkg/lease): its key only.
	leases, err := cl["loader"].js.KeyValue(ctx, topology.BucketLeases)
	if err != nil {
		t.Fatalf("loader: leases KV: %v", err)
	}
	if st, err := leases.Status(ctx); err != nil || st.TTL() != topology.LeaseTTL {
		t.Fatalf("loader: the leases' TTL: %v", err)
	}
	rev, err := leases.Create(ctx, topology.LeaseLoader, []byte("host/1"))
	if err != nil {
		t.Fatalf("loader: taking its lease: %v", err)
	}
	if rev, err = leases.Update(ctx, topology.LeaseLoader, []byte("host/1"), rev); err != nil {
		t.Fatalf("loader: renewing its lease: %v", err)
	}
	if e, err := leases.Get(ctx, topology.LeaseLoader); err != nil || string(e.Value()) != "host/1" {
		t.Fatalf("loader: reading its lease: %v", err)
	}
	if err := leases.Delete(ctx, topology.LeaseLoader, jetstream.LastRevision(rev)); err != nil {
		t.Fatalf("loader: giving its lease back: %v", err)
	}
	ack := cl["ack"]
	ack.consume(t, ctx, "BNDMR_OUTCOME", "bndmr.mail.outcome")
	kv, err := ack.js.KeyValue(ctx, "BNDMR_MDN_SENT")
	if err != nil {
		t.Fatalf("ack: KV: %v", err)
	}
	if _, err := kv.Create(ctx, "m1", []byte("sent")); err != nil {
		t.Fatalf("ack: recording an MDN: %v", err)
	}
	if e, err := kv.Get(ctx, "m1"); err != nil || string(e.Value()) != "sent" {
		t.Fatalf("ack: reading an MDN record: %v", err)
	}
	mail, err := ack.js.Stream(ctx, "BNDMR_MAIL")
	if err != nil {
		t.Fatalf("ack: mail stream: %v", err)
	}
	if m, err := mail.GetMsg(ctx, 1); err != nil || string(m.Data) != `{"mail":1}` {
		t.Fatalf("ack: reading the original mail: %v", err)
	}
	aobs, err := ack.js.ObjectStore(ctx, "BNDMR_MAILOBJ")
	if err != nil {
		t.Fatalf("ack: object store: %v", err)
	}
	if _, err := aobs.GetBytes(ctx, "m2"); err != nil {
		t.Fatalf("ack: reading a large original mail: %v", err)
	}
	if _, err := cl["indicators"].js.Stream(ctx, "BNDMR_RECORD"); err != nil {
		t.Fatalf("indicators: record stream state: %v", err)
	}
	// operator: what `bndmrctl quarantine` does (services/bndmrctl/cmd_quarantine.go):
	// list and inspect an entry, read the large mail it names, replay it.
	op := cl["operator"]
	qs, err := op.js.Stream(ctx, "BNDMR_QUARANTINE")
	if err != nil {
		t.Fatalf("operator: quarantine stream: %v", err)
	}
	if info, err := qs.Info(ctx); err != nil || info.State.Msgs != 2 {
		t.Fatalf("operator: quarantine state: %+v, %v", info, err)
	}
	if m, err := qs.GetMsg(ctx, 1); err != nil || string(m.Data) != `{}` {
		t.Fatalf("operator: reading a quarantine entry: %v", err)
	}
	oobs, err := op.js.ObjectStore(ctx, "BNDMR_MAILOBJ")
	if err != nil {
		t.Fatalf("operator: object store: %v", err)
	}
	if b, err := oobs.GetBytes(ctx, "m2"); err != nil || len(b) != len(big) {
		t.Fatalf("operator: reading a large quarantined mail: %d bytes, %v", len(b), err)
	}
	// A replay from the original and `bndmrctl reprocess`: the mail and
	// outcome streams, message by message.
	for _, name := range []string{"BNDMR_MAIL", "BNDMR_OUTCOME"} {
		st, err := op.js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("operator: stream %s: %v", name, err)
		}
		if _, err := st.GetMsg(ctx, 1); err != nil {
			t.Fatalf("operator: reading %s message 1: %v", name, err)
		}
	}
	if ack, err := op.js.Publish(ctx, "bndmr.mail.raw", []byte(`{"mail":2}`), jetstream.WithMsgID("m2/replay/1")); err != nil || ack.Stream != "BNDMR_MAIL" {
		t.Fatalf("operator: replaying a mail: %+v, %v", ack, err)
	}
	for _, c := range cl {
		c.noViolation(t)
	}

	// What must be refused.
	identifiedAPI := []string{
		"$JS.API.STREAM.INFO.BNDMR_IDENTIFIED",
		"$JS.API.STREAM.MSG.GET.BNDMR_IDENTIFIED",
		"$JS.API.DIRECT.GET.BNDMR_IDENTIFIED",
		"$JS.API.DIRECT.GET.BNDMR_IDENTIFIED.bndmr.identified.sdmmr.extracted",
		"$JS.API.CONSUMER.CREATE.BNDMR_IDENTIFIED.x",
		"$JS.API.CONSUMER.CREATE.BNDMR_IDENTIFIED.x.bndmr.identified.sdmmr.extracted",
		"$JS.API.CONSUMER.DURABLE.CREATE.BNDMR_IDENTIFIED.x",
		"$JS.API.CONSUMER.MSG.NEXT.BNDMR_IDENTIFIED.pseudonymisation",
		"$JS.API.STREAM.SNAPSHOT.BNDMR_IDENTIFIED",
		"$JS.ACK.BNDMR_IDENTIFIED.pseudonymisation.1.1.1.1.0",
	}
	for _, tc := range []struct {
		user      string
		publish   []string
		subscribe []string
	}{
		{"loader", append([]string{
			"bndmr.identified.sdmmr.extracted",
			// A stream update could source BNDMR_IDENTIFIED into BNDMR_RECORD.
			"$JS.API.STREAM.UPDATE.BNDMR_RECORD",
			"$JS.API.STREAM.CREATE.COPY",
			"bndmr.sdmmr.record",
			// Its receipts durable only: not the ack's.
			"$JS.API.CONSUMER.CREATE.BNDMR_OUTCOME.ack", "$JS.ACK.BNDMR_OUTCOME.ack.1.1.1.1.0", "bndmr.mail.outcome",
			// Its own lease only.
			"$KV.BNDMR_LEASES.ack", "$KV.BNDMR_MDN_SENT.m1",
		}, identifiedAPI...), []string{"bndmr.identified.>", "bndmr.>", ">", "_INBOX.>", "_INBOX_pseudonymisation.>", "$JS.API.>"}},
		{"ingest", append([]string{"bndmr.identified.sdmmr.extracted", "bndmr.mail.outcome", "$JS.API.CONSUMER.CREATE.BNDMR_MAIL.ingest", "$JS.API.STREAM.UPDATE.BNDMR_MAIL"}, identifiedAPI...),
			[]string{"bndmr.identified.>", "bndmr.mail.raw", "_INBOX_validator.>"}},
		{"validator", append([]string{"bndmr.sdmmr.record", "$JS.API.STREAM.UPDATE.BNDMR_IDENTIFIED"}, identifiedAPI[1:]...),
			[]string{"bndmr.identified.>", "_INBOX_pseudonymisation.>"}},
		{"pseudonymisation", []string{
			// Anything else it published could carry identities out.
			"bndmr.mail.outcome", "bndmr.mail.raw", "bndmr.identified.sdmmr.extracted",
			"$JS.API.STREAM.UPDATE.BNDMR_RECORD", "$JS.API.CONSUMER.CREATE.BNDMR_RECORD.x",
		}, []string{"_INBOX_loader.>", "bndmr.sdmmr.record"}},
		{"ack", append([]string{"bndmr.mail.outcome", "$JS.API.STREAM.UPDATE.BNDMR_OUTCOME"}, identifiedAPI...), []string{"bndmr.identified.>", "_INBOX_pseudonymisation.>"}},
		{"indicators", append([]string{"$JS.API.CONSUMER.CREATE.BNDMR_RECORD.x", "$JS.API.STREAM.MSG.GET.BNDMR_RECORD"}, identifiedAPI...), []string{"bndmr.>"}},
		{"operator", append([]string{
			// Only the quarantine, the mails and the outcomes (read): not the
			// records, no consumer, no stream configuration.
			"bndmr.mail.quarantine", "bndmr.sdmmr.record", "bndmr.mail.outcome", "bndmr.identified.sdmmr.extracted",
			"$JS.API.STREAM.MSG.GET.BNDMR_RECORD", "$JS.API.CONSUMER.CREATE.BNDMR_MAIL.x",
			"$JS.API.CONSUMER.CREATE.BNDMR_OUTCOME.x", "$JS.API.CONSUMER.MSG.NEXT.BNDMR_OUTCOME.ack", "$JS.API.STREAM.MSG.DELETE.BNDMR_MAIL",
			"$JS.API.STREAM.UPDATE.BNDMR_QUARANTINE", "$JS.API.STREAM.DELETE.BNDMR_QUARANTINE", "$JS.API.STREAM.PURGE.BNDMR_QUARANTINE",
			"$JS.API.STREAM.MSG.DELETE.BNDMR_QUARANTINE", "$O.BNDMR_MAILOBJ.x",
		}, identifiedAPI...), []string{"bndmr.>", "_INBOX_validator.>", "_INBOX.>"}},
		{"provisioner", identifiedAPI[1:], []string{"bndmr.identified.>", "_INBOX_pseudonymisation.>", "_INBOX.>"}},
		{"erasure", []string{
			// It reads and deletes messages; it writes nothing, creates no
			// consumer and changes no stream.
			"bndmr.mail.raw", "bndmr.mail.quarantine", "bndmr.identified.sdmmr.extracted", "bndmr.sdmmr.record",
			"$JS.API.CONSUMER.CREATE.BNDMR_IDENTIFIED.x", "$JS.API.CONSUMER.CREATE.BNDMR_MAIL.x",
			"$JS.API.STREAM.UPDATE.BNDMR_MAIL", "$JS.API.STREAM.DELETE.BNDMR_IDENTIFIED", "$JS.API.STREAM.PURGE.BNDMR_MAIL",
			"$JS.API.STREAM.MSG.GET.BNDMR_RECORD", "$JS.API.STREAM.MSG.DELETE.BNDMR_RECORD", "$O.BNDMR_MAILOBJ.x",
		}, []string{"bndmr.>", "_INBOX_pseudonymisation.>", "_INBOX.>"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := cl[tc.user]
			for _, subj := range tc.publish {
				c.mustNotPublish(t, subj)
			}
			for _, subj := range tc.subscribe {
				c.mustNotSubscribe(t, subj)
			}
		})
	}
}

// TestNATSDeniedIsObservable guards the check above: an allowed subject
// produces no violation, so "denied" cannot pass by accident.
func TestNATSDeniedIsObservable(t *testing.T) {
	s, pw := natsServer(t)
	c := connect(t, s, pw, "ingest")
	c.nc.Publish("bndmr.mail.raw", []byte("{}"))
	c.nc.Flush()
	if c.denied("bndmr.mail.raw", time.Second) {
		t.Fatal("an allowed publish was reported as denied")
	}
	// And a refused one is seen.
	c.mustNotPublish(t, "bndmr.sdmmr.record")
}
