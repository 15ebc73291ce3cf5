// Package topology declares, once, the hub's JetStream layout: streams and
// their subjects, the durable consumers and the service that owns each, the
// key-value buckets and the object store. The services, the all-in-one hub,
// bndmrctl and the deployment tests all read these names from here.
//
// It is a module of its own with no dependency, so that deploy/k8s (kept
// out of go.work) can import it without taking the runtime's dependencies.
package topology

import "time"

// Subjects.
const (
	SubjectMailRaw    = "bndmr.mail.raw"
	SubjectOutcome    = "bndmr.mail.outcome"
	SubjectQuarantine = "bndmr.mail.quarantine"
	// Identified data (sdmmr.extracted) lives under its own prefix and on its
	// own stream so that NATS permissions can fence it off.
	SubjectExtracted = "bndmr.identified.sdmmr.extracted"
	SubjectRecord    = "bndmr.sdmmr.record"
)

// Streams.
const (
	StreamMail       = "BNDMR_MAIL"
	StreamOutcome    = "BNDMR_OUTCOME"
	StreamIdentified = "BNDMR_IDENTIFIED"
	StreamRecord     = "BNDMR_RECORD"
	StreamQuarantine = "BNDMR_QUARANTINE"
)

// Object store and key-value buckets.
const (
	// ObjectStore holds mails larger than a stream message.
	ObjectStore = "BNDMR_MAILOBJ"
	// BucketMDNSent records the acknowledgement sent for each original mail.
	BucketMDNSent = "BNDMR_MDN_SENT"
	// BucketIngested records every mail ingest published, by content, so
	// that a UIDVALIDITY change publishes nothing twice.
	BucketIngested = "BNDMR_INGESTED"
	// BucketLeases holds the leases that let one replica of a service do a
	// piece of work (pkg/lease): the loader that consumes the records and
	// the receipts (LeaseLoader), so that one process keeps the figures.
	BucketLeases = "BNDMR_LEASES"
	// LeaseTTL is the leases' lifetime without renewal: a crashed holder's
	// work moves to another replica after it.
	LeaseTTL = 30 * time.Second
	// LeaseLoader is the loader's lease key.
	LeaseLoader = "loader"
)

// Services, as NATS users and component names.
const (
	ServiceIngest           = "ingest"
	ServiceValidator        = "validator"
	ServicePseudonymisation = "pseudonymisation"
	ServiceLoader           = "loader"
	ServiceAck              = "ack"
	ServiceIndicators       = "indicators"
)

// Durable consumer names.
const (
	DurableValidator        = "validator"
	DurablePseudonymisation = "pseudonymisation"
	DurableRecords          = "loader"
	DurableReceipts         = "loader-receipts"
	DurableAck              = "ack"
)

// Retention is how a stream keeps its messages.
type Retention int

const (
	// Limits keeps messages until MaxAge, whoever has read them.
	Limits Retention = iota
	// WorkQueue removes a message once its one consumer acknowledged it.
	WorkQueue
)

// Stream is one stream of the hub.
type Stream struct {
	Name        string
	Subject     string
	Description string
	Retention   Retention
	// MaxAge is the retention; zero takes the deployment's setting (the
	// mail stream's, bus.DefaultMailMaxAge unless set).
	MaxAge time.Duration
}

// Streams lists every stream of the hub.
var Streams = []Stream{
	{Name: StreamMail, Subject: SubjectMailRaw, Description: "raw MSSanté mails as read from IMAP"},
	{Name: StreamOutcome, Subject: SubjectOutcome, Description: "what the hub did with each mail"},
	// Identified data leaves as soon as it has been pseudonymised (work
	// queue). While pseudonymisation is away it waits as long as the
	// original mail it was derived from is kept (the deployment's mail
	// retention, MaxAge 0): it cannot expire while the mail is still there,
	// and keeping it no longer than the original widens nothing.
	{Name: StreamIdentified, Subject: SubjectExtracted, Retention: WorkQueue,
		Description: "identified SDM-MR documents, for the pseudonymisation service only"},
	{Name: StreamRecord, Subject: SubjectRecord, Description: "pseudonymised SDM-MR records"},
	{Name: StreamQuarantine, Subject: SubjectQuarantine, Description: "messages the hub could not handle, with the reason"},
}

// Consumer is a durable pull consumer and the service that runs it.
type Consumer struct {
	Stream  string
	Durable string
	Subject string
	Service string
	// AckWait is how long one delivery may take before JetStream gives the
	// message to another worker.
	AckWait time.Duration
	// Optional consumers run only when their service is configured (the
	// acknowledgements need an SMTP relay).
	Optional bool
	// Pinned consumers deliver to one client at a time (JetStream's
	// pinned_client priority policy, group PinnedGroup): another replica
	// takes over once that client has not asked for PinnedTTL. The loader's
	// records are pinned: the loader that writes them keeps the figures
	// (pkg/figures), which one writer at a time may do.
	Pinned bool
	// PinnedTTL overrides the package's PinnedTTL (tests).
	PinnedTTL time.Duration
}

// PinnedGroup is the priority group of a pinned consumer, and PinnedTTL how
// long its client may stay silent before another is pinned. It outlasts the
// longest batch: the loader that takes over counts the figures again before
// its first batch (docs/operations.md, "One loader keeps the figures"), and
// a pin that moved during that count would make the next loader count
// again. A stage that stops hands its pin over (stage.Run); a loader that
// crashed hands over after PinnedTTL: the records wait.
const (
	PinnedGroup = "writer"
	PinnedTTL   = 5 * time.Minute
)

// Consumers lists every durable consumer of the hub, in pipeline order.
var Consumers = []Consumer{
	{Stream: StreamMail, Durable: DurableValidator, Subject: SubjectMailRaw, Service: ServiceValidator, AckWait: 2 * time.Minute},
	{Stream: StreamIdentified, Durable: DurablePseudonymisation, Subject: SubjectExtracted, Service: ServicePseudonymisation, AckWait: time.Minute},
	{Stream: StreamRecord, Durable: DurableRecords, Subject: SubjectRecord, Service: ServiceLoader, AckWait: 2 * time.Minute, Pinned: true},
	{Stream: StreamOutcome, Durable: DurableReceipts, Subject: SubjectOutcome, Service: ServiceLoader, AckWait: 2 * time.Minute},
	{Stream: StreamOutcome, Durable: DurableAck, Subject: SubjectOutcome, Service: ServiceAck, AckWait: 2 * time.Minute, Optional: true},
}

// ConsumerOf returns the declared consumer named durable; it panics on a
// name that is not declared, a programming error caught by any test.
func ConsumerOf(durable string) Consumer {
	for _, c := range Consumers {
		if c.Durable == durable {
			return c
		}
	}
	panic("topology: no consumer named " + durable)
}

// StreamOf returns the declared stream named name (panics like ConsumerOf).
func StreamOf(name string) Stream {
	for _, s := range Streams {
		if s.Name == name {
			return s
		}
	}
	panic("topology: no stream named " + name)
}
