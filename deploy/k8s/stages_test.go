package k8s_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"

	"github.com/bndmr/hub/pkg/topology"
)

// provisionStreams creates the hub's streams as pkg/topology declares them,
// as the provisioning Job does.
func provisionStreams(t *testing.T, ctx context.Context, prov jetstream.JetStream) {
	t.Helper()
	for _, s := range topology.Streams {
		sc := jetstream.StreamConfig{Name: s.Name, Subjects: []string{s.Subject}}
		if s.Retention == topology.WorkQueue {
			sc.Retention = jetstream.WorkQueuePolicy
		}
		if _, err := prov.CreateOrUpdateStream(ctx, sc); err != nil {
			t.Fatalf("provisioner: stream %s: %v", s.Name, err)
		}
	}
}

// producers: who publishes each consumed subject in the pipeline.
var producers = map[string]string{
	topology.SubjectMailRaw:   topology.ServiceIngest,
	topology.SubjectExtracted: topology.ServiceValidator,
	topology.SubjectRecord:    topology.ServicePseudonymisation,
	topology.SubjectOutcome:   topology.ServiceValidator,
}

// TestNATSStagePermissions runs, for every consumer pkg/topology declares,
// what the stage runtime (pkg/stage) does as the service that owns it:
// create the durable with no delivery limit, read its state, fetch, hand a
// message back with a delay, quarantine it and terminate it. A consumer
// added to the topology without its permissions fails here.
func TestNATSStagePermissions(t *testing.T) {
	s, pw := natsServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := map[string]*client{}
	for _, u := range natsUsers {
		cl[u] = connect(t, s, pw, u)
	}
	provisionStreams(t, ctx, cl["provisioner"].js)
	for _, c := range topology.Consumers {
		t.Run(c.Durable, func(t *testing.T) {
			// A refused publish has no answer: fail fast, not at the deadline.
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			owner, ok := cl[c.Service]
			if !ok {
				t.Fatalf("consumer %s belongs to %s, which has no NATS user", c.Durable, c.Service)
			}
			producer := cl[producers[c.Subject]]
			if producer == nil {
				t.Fatalf("no producer known for %s", c.Subject)
			}
			if _, err := producer.js.Publish(ctx, c.Subject, []byte(`{"v":1}`)); err != nil {
				t.Fatalf("%s: publishing %s: %v", producer.user, c.Subject, err)
			}
			cons, err := owner.js.CreateOrUpdateConsumer(ctx, c.Stream, jetstream.ConsumerConfig{
				Durable: c.Durable, FilterSubject: c.Subject, AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: c.AckWait, MaxDeliver: -1,
			})
			if err != nil {
				t.Fatalf("%s: creating consumer %s on %s: %v", owner.user, c.Durable, c.Stream, err)
			}
			if _, err := cons.Info(ctx); err != nil {
				t.Fatalf("%s: reading the state of %s: %v", owner.user, c.Durable, err)
			}
			fetch := func() jetstream.Msg {
				t.Helper()
				b, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					t.Fatalf("%s: fetching from %s: %v", owner.user, c.Durable, err)
				}
				for m := range b.Messages() {
					return m
				}
				t.Fatalf("%s: nothing fetched from %s (%v)", owner.user, c.Durable, b.Error())
				return nil
			}
			if err := fetch().NakWithDelay(10 * time.Millisecond); err != nil {
				t.Fatalf("%s: handing a message back: %v", owner.user, err)
			}
			m := fetch()
			if _, err := owner.js.Publish(ctx, topology.SubjectQuarantine, []byte(`{"v":1}`)); err != nil {
				t.Fatalf("%s: quarantining: %v", owner.user, err)
			}
			if err := m.Term(); err != nil {
				t.Fatalf("%s: terminating: %v", owner.user, err)
			}
			owner.noViolation(t)
		})
	}
}

// TestNATSStoreEncrypted: every overlay's NATS encrypts its JetStream store
// with the key of Secret bndmr-nats-store-key.
func TestNATSStoreEncrypted(t *testing.T) {
	for _, ov := range []string{"dev", "prod"} {
		conf, _ := natsConfig(t, ov)
		opts, err := server.ProcessConfigFile(conf)
		if err != nil {
			t.Fatalf("%s: %v", ov, err)
		}
		if opts.JetStreamKey != os.Getenv("NATS_STORE_KEY") || opts.JetStreamKey == "" || opts.JetStreamCipher != server.ChaCha {
			t.Errorf("%s: JetStream store not encrypted with NATS_STORE_KEY (key %q, cipher %v)", ov, opts.JetStreamKey, opts.JetStreamCipher)
		}
	}
}

// TestNATSStoreLimitSetting: the limit the services export beside the
// store's use is the servers' max_file_store, overlay by overlay.
func TestNATSStoreLimitSetting(t *testing.T) {
	for _, ov := range []string{"dev", "prod"} {
		conf, _ := natsConfig(t, ov)
		opts, err := server.ProcessConfigFile(conf)
		if err != nil {
			t.Fatalf("%s: %v", ov, err)
		}
		var setting string
		for _, o := range objects(t, ov) {
			if cm, ok := o.Value.(*corev1.ConfigMap); ok && strings.HasPrefix(cm.Name, "bndmr-common") {
				setting = cm.Data["BNDMR_NATS_STORE_LIMIT"]
			}
		}
		if setting != strconv.FormatInt(opts.JetStreamMaxStore, 10) {
			t.Errorf("%s: BNDMR_NATS_STORE_LIMIT=%q, NATS max_file_store %d", ov, setting, opts.JetStreamMaxStore)
		}
	}
}

// TestNATSErasure: the user `erasure` can do what `bndmrctl purge` does on
// a real server configured by the overlay: read the mail, identified and
// quarantine streams and the large mails, and securely delete messages.
func TestNATSErasure(t *testing.T) {
	s, pw := natsServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := map[string]*client{}
	for _, u := range []string{"provisioner", "ingest", "validator", "erasure"} {
		cl[u] = connect(t, s, pw, u)
	}
	provisionStreams(t, ctx, cl["provisioner"].js)
	if _, err := cl["provisioner"].js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: topology.ObjectStore}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl["ingest"].js.Publish(ctx, topology.SubjectMailRaw, []byte(`{"mail_id":"m1"}`)); err != nil {
		t.Fatal(err)
	}
	obs, err := cl["ingest"].js.ObjectStore(ctx, topology.ObjectStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, "mail/m1", make([]byte, 200<<10)); err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{topology.SubjectExtracted, topology.SubjectQuarantine} {
		if _, err := cl["validator"].js.Publish(ctx, subj, []byte(`{"mail_id":"m1"}`)); err != nil {
			t.Fatal(err)
		}
	}
	er := cl["erasure"]
	for _, name := range []string{topology.StreamMail, topology.StreamIdentified, topology.StreamQuarantine} {
		st, err := er.js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("erasure: opening %s: %v", name, err)
		}
		if _, err := st.GetMsg(ctx, 1); err != nil {
			t.Fatalf("erasure: reading %s: %v", name, err)
		}
		if err := st.SecureDeleteMsg(ctx, 1); err != nil {
			t.Fatalf("erasure: erasing from %s: %v", name, err)
		}
	}
	eobs, err := er.js.ObjectStore(ctx, topology.ObjectStore)
	if err != nil {
		t.Fatalf("erasure: object store: %v", err)
	}
	if _, err := eobs.GetInfo(ctx, "mail/m1"); err != nil {
		t.Fatalf("erasure: object info: %v", err)
	}
	objStream, err := er.js.Stream(ctx, "OBJ_"+topology.ObjectStore)
	if err != nil {
		t.Fatalf("erasure: object stream: %v", err)
	}
	if err := objStream.SecureDeleteMsg(ctx, 1); err != nil {
		t.Fatalf("erasure: erasing a chunk: %v", err)
	}
	er.noViolation(t)
}
