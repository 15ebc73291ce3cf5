// Package validator is the validator service: for each raw mail it unpacks
// the MSSanté message, validates every CDA document with the profile of its
// SDM-MR version, extracts the accepted ones from the same parsed tree, and
// publishes the identified documents and one outcome per mail.
package validator

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/bus"
	"github.com/bndmr/hub/pkg/cda"
	"github.com/bndmr/hub/pkg/cisis"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/sdmmr"
	"github.com/bndmr/hub/pkg/stage"
	"github.com/bndmr/hub/pkg/topology"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// Config of the validator service.
type Config struct {
	Workers int // concurrent mails; default DefaultWorkers()
	Limits  mssante.Limits
	XML     xmldoc.Limits
	// RequireINS rejects (903) a document whose patient has no INS. Off by
	// default: BNDMR links documents without INS through the identity traits.
	RequireINS bool
}

// Validator checks mails. It is safe for concurrent use.
type Validator struct {
	cfg     Config
	engine  *cisis.Engine
	log     *zap.Logger
	docs    *prometheus.CounterVec
	mails   *prometheus.CounterVec
	latency prometheus.Histogram
	// byFINESS: documents by establishment, for the alert on a jump in one
	// establishment's refusal rate (about 2,000 establishments × 2).
	byFINESS *prometheus.CounterVec
}

// DefaultWorkers is the number of mails validated at once by default: twice
// the cores the process may use (GOMAXPROCS, which follows a container's CPU
// limit). Validation is CPU work, but each mail also waits on JetStream (the
// mail fetched, two publishes and the acknowledgement confirmed, one after
// the other): with one worker per core a core idles during those waits, and
// the hub measured 132 % of 200 % CPU with 2 workers on 2 cores (issue 15).
func DefaultWorkers() int { return 2 * runtime.GOMAXPROCS(0) }

// New returns a validator over a loaded engine; reg may be nil.
func New(cfg Config, engine *cisis.Engine, log *zap.Logger, reg prometheus.Registerer) *Validator {
	cfg = cfg.WithDefaults()
	v := &Validator{cfg: cfg, engine: engine, log: log,
		docs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_validator_documents_total",
			Help: "CDA documents checked, by verdict (accepted, rejected) and CI-SIS code."}, []string{"verdict", "code"}),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_validator_mails_total",
			Help: "Mails handled, by result (documents, rejected, quarantined)."}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bndmr_validator_document_seconds",
			Help: "Time to parse, validate and extract one document.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 12)}),
	}
	v.byFINESS = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bndmr_validator_establishment_documents_total",
		Help: "CDA documents checked, by establishment (FINESS; unknown when refused before its header was read) and verdict."}, []string{"finess", "verdict"})
	if reg != nil {
		reg.MustRegister(v.docs, v.mails, v.latency, v.byFINESS)
	}
	return v
}

// Result is what one mail gives: the outcome and the accepted documents.
type Result struct {
	Outcome   events.MailOutcome
	Extracted []events.Extracted
}

// Check handles one raw mail. It never fails on bad input: every problem
// becomes a rejection in the outcome. It returns an error only when ctx ends.
func (v *Validator) Check(ctx context.Context, m events.MailRaw, raw []byte) (*Result, error) {
	now := time.Now().UTC()
	out := events.MailOutcome{V: events.OutcomeV, MailID: m.MailID, Mailbox: m.Mailbox, ReceivedAt: m.ReceivedAt,
		ProcessedAt: now, Size: int64(len(raw)), Documents: []events.DocumentOutcome{}}
	mail, err := mssante.Unpack(ctx, raw, v.cfg.Limits)
	if mail != nil {
		out.MessageID, out.From, out.ReturnPath = mail.MessageID, mail.From, mail.ReturnPath
		out.DispositionNotificationTo, out.OriginalRecipient = mail.DispositionNotificationTo, mail.OriginalRecipient
		out.Subject, out.IsReport, out.OriginalHeader = mail.Subject, mail.IsReport, string(mail.Header)
		out.Warnings = mail.Warnings
	}
	var rej *mssante.RejectError
	switch {
	case errors.As(err, &rej):
		out.Rejected = &events.Rejection{Code: rej.Code, CISIS: events.CodeOther, Reason: rej.Bilingual()}
		v.mails.WithLabelValues("rejected").Inc()
		return &Result{Outcome: out}, nil
	case err != nil:
		return nil, err // only ctx's
	}
	res := &Result{}
	for i, d := range mail.Documents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		do, doc := v.checkDocument(ctx, d)
		v.latency.Observe(time.Since(start).Seconds())
		out.Documents = append(out.Documents, do)
		finess := do.FINESS
		if finess == "" {
			finess = "unknown" // refused before its header could be read
		}
		if !do.Accepted {
			v.docs.WithLabelValues("rejected", fmt.Sprint(do.Rejection.CISIS)).Inc()
			v.byFINESS.WithLabelValues(finess, "rejected").Inc()
			continue
		}
		v.docs.WithLabelValues("accepted", "").Inc()
		v.byFINESS.WithLabelValues(finess, "accepted").Inc()
		res.Extracted = append(res.Extracted, events.Extracted{V: events.ExtractedV, MailID: m.MailID, DocIndex: i,
			DocName: d.Name, ReceivedAt: m.ReceivedAt, MetadataPatientID: d.PatientID, Header: doc.Header, Document: doc})
	}
	v.mails.WithLabelValues("documents").Inc()
	res.Outcome = out
	return res, nil
}

// checkDocument parses, validates and extracts one document.
func (v *Validator) checkDocument(ctx context.Context, d mssante.Document) (events.DocumentOutcome, *sdmmr.Document) {
	do := events.DocumentOutcome{Name: d.Name, SHA1: d.SHA1, Warnings: d.Warnings}
	rejectWith := func(code string, cisis int, reason string) (events.DocumentOutcome, *sdmmr.Document) {
		do.Rejection = &events.Rejection{Code: code, CISIS: cisis, Reason: reason}
		return do, nil
	}
	doc, err := xmldoc.Parse(d.Data, v.cfg.XML)
	if err != nil {
		return rejectWith("unreadable_xml", events.CodeOther, "document illisible / unreadable document: "+err.Error())
	}
	defer doc.Free()
	rep, err := v.engine.Validate(ctx, doc, cisis.Options{})
	switch {
	case errors.Is(err, cda.ErrNotSDMMR):
		return rejectWith("not_sdmmr", events.CodeOther, "ce document n'est pas un SDM-MR / not an SDM-MR document: "+err.Error())
	case errors.Is(err, cisis.ErrUnknownVersion):
		return rejectWith("unsupported_version", events.CodeOther, "version du modèle SDM-MR non prise en charge / unsupported SDM-MR model version: "+err.Error())
	case err != nil:
		return rejectWith("validation_error", events.CodeOther, "validation impossible / validation could not run: "+err.Error())
	}
	if !rep.Valid {
		// The header still names the document in the acknowledgement.
		if h, err := cda.ExtractHeader(doc); err == nil {
			describe(&do, h)
		}
		do.Failures = rep.Failures()
		n := len(rep.XSDErrors)
		for _, sr := range rep.Schematrons {
			for _, f := range sr.Failures {
				if f.Kind == "assert" {
					n++
				}
			}
		}
		return rejectWith("invalid", events.CodeOther, fmt.Sprintf("document non conforme au profil %s (%d erreur(s)) / document does not conform to %s (%d error(s))",
			rep.Profile, n, rep.Profile, n))
	}
	// Extraction reads the tree validation already parsed, once.
	rec, err := cda.Extract(doc)
	if err != nil {
		code := "extraction_failed"
		if errors.Is(err, cda.ErrUnversioned) {
			code = "unversioned"
		}
		return rejectWith(code, events.CodeOther, "extraction impossible / extraction failed: "+err.Error())
	}
	describe(&do, &rec.Header)
	if code, reason := v.checkINS(rec, d); code != 0 {
		return rejectWith(insCodes[code], code, reason)
	}
	do.Accepted = true
	return do, rec
}

func describe(do *events.DocumentOutcome, h *sdmmr.Header) {
	do.DocumentID, do.SetID, do.VersionNumber = h.DocumentID, h.SetID, h.VersionNumber
	do.EffectiveTime, do.ModelVersion, do.FINESS = h.EffectiveTime, h.ModelVersion, h.FINESS
}

var insCodes = map[int]string{
	events.CodeINSAbsent:       "ins_absent",
	events.CodeINSInconsistent: "ins_inconsistent",
	events.CodeINSIncomplete:   "ins_incomplete",
}

// checkINS applies the identity rules of the acknowledgement volet: an INS
// must come with the traits it was qualified on, and must agree with the
// patient id METADATA.XML declared.
func (v *Validator) checkINS(doc *sdmmr.Document, d mssante.Document) (int, string) {
	p := doc.Header.Patient
	if p.INS == "" {
		if v.cfg.RequireINS {
			return events.CodeINSAbsent, "INS absent du document / the document carries no INS"
		}
		return 0, ""
	}
	var missing []string
	for name, val := range map[string]string{"nom de naissance": p.BirthFamily, "premier prénom": p.BirthGiven,
		"date de naissance": p.BirthTime, "sexe": p.Sex} {
		if strings.TrimSpace(val) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return events.CodeINSIncomplete, "traits d'identité INS incomplets / incomplete INS identity traits: " + strings.Join(sorted(missing), ", ")
	}
	if d.PatientID != "" && !sameINS(d.PatientID, p.INS, p.INSRoot) {
		return events.CodeINSInconsistent, "INS différent entre METADATA.XML et le document CDA / INS differs between METADATA.XML and the CDA document"
	}
	// The same bytes listed a second time (another XDM subset) carry their
	// own metadata: each entry must name the document's patient.
	for _, dup := range d.Duplicates {
		if dup.PatientID != "" && !sameINS(dup.PatientID, p.INS, p.INSRoot) {
			return events.CodeINSInconsistent, fmt.Sprintf("INS différent entre METADATA.XML et le document CDA pour l'entrée %s, même fichier / INS differs between METADATA.XML and the CDA document for the entry %s, the same file",
				dup.Name, dup.Name)
		}
	}
	return 0, ""
}

// sameINS tells whether an XDS patientId names the INS ins (under root,
// when it gives one).
func sameINS(xdsPatientID, ins, root string) bool {
	ext, r := splitXDSPatientID(xdsPatientID)
	return ext == ins && (r == "" || r == root)
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// splitXDSPatientID reads "ext^^^&root&ISO".
func splitXDSPatientID(id string) (ext, root string) {
	ext, rest, _ := strings.Cut(id, "^^^")
	rest = strings.TrimPrefix(rest, "&")
	root, _, _ = strings.Cut(rest, "&")
	return strings.TrimSpace(ext), strings.TrimSpace(root)
}

// Run consumes raw mails until ctx ends, on the stage runtime (set may be
// nil: stage.Run makes a private one).
func (v *Validator) Run(ctx context.Context, js jetstream.JetStream, set *stage.Set) error {
	return stage.Run(ctx, js, set, v.log, stage.Spec[events.MailRaw]{
		Consumer:   topology.ConsumerOf(topology.DurableValidator),
		Version:    events.MailRawV,
		Workers:    v.cfg.Workers,
		Batch:      4,
		Dependency: "nats",
		MailID:     func(m events.MailRaw) string { return m.MailID },
		HandleOne: func(ctx context.Context, d stage.Delivery[events.MailRaw]) error {
			return v.handle(ctx, js, d)
		},
	})
}

// handle publishes the identified documents, then the outcome; the runtime
// acknowledges the raw mail only after both are stored. A redelivery
// republishes with the same ids, which JetStream deduplicates.
func (v *Validator) handle(ctx context.Context, js jetstream.JetStream, d stage.Delivery[events.MailRaw]) error {
	m := d.Event
	raw, err := Raw(ctx, js, m)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return stage.Permanent("raw_missing", err)
	}
	if err != nil {
		return stage.Transient("nats", err)
	}
	res, err := v.Check(ctx, m, raw)
	if err != nil {
		return err
	}
	// The acknowledgement quotes the original: it finds it by this sequence.
	res.Outcome.MailSeq = d.Meta.Sequence.Stream
	if res.Outcome.Rejected != nil && res.Outcome.Rejected.Code == mssante.CodeInternal {
		if err := v.quarantine(ctx, js, m, mssante.CodeInternal, res.Outcome.Rejected.Reason); err != nil {
			return stage.Transient("nats", err)
		}
	}
	// Derived ids follow the raw message's own id, so that an operator's
	// replay (bndmrctl quarantine replay: a new id) yields a new outcome,
	// while a redelivery of the same message is deduplicated.
	key := d.MsgID()
	if key == "" {
		key = m.MailID
	}
	for _, e := range res.Extracted {
		e.MailSeq = res.Outcome.MailSeq
		if _, err := bus.Publish(ctx, js, events.SubjectExtracted, fmt.Sprintf("%s/%d", key, e.DocIndex), e); err != nil {
			return stage.Transient("nats", err)
		}
	}
	if _, err := bus.Publish(ctx, js, events.SubjectOutcome, key, res.Outcome); err != nil {
		return stage.Transient("nats", err)
	}
	v.log.Info("mail checked", zap.String("mail_id", m.MailID), zap.Int("documents", len(res.Outcome.Documents)),
		zap.Int("accepted", len(res.Extracted)), zap.Bool("rejected", res.Outcome.Rejected != nil))
	return nil
}

// quarantine keeps a copy of a mail the hub could not read at all, with the
// reason, beside the outcome that refuses it (internal_error): the operator
// can replay it once the cause is fixed.
func (v *Validator) quarantine(ctx context.Context, js jetstream.JetStream, m events.MailRaw, code, reason string) error {
	q := events.Quarantined{V: events.QuarantineV, Mail: m, Stage: topology.DurableValidator, Code: code, Reason: reason, At: time.Now().UTC()}
	if _, err := bus.Publish(ctx, js, events.SubjectQuarantine, "validator/"+m.MailID+"/"+code, q); err != nil {
		return err
	}
	v.mails.WithLabelValues("quarantined").Inc()
	v.log.Error("mail quarantined", zap.String("mail_id", m.MailID), zap.String("code", code), zap.String("reason", reason))
	return nil
}

// Raw returns the bytes of a mail, inline or from the object store.
func Raw(ctx context.Context, js jetstream.JetStream, m events.MailRaw) ([]byte, error) {
	if m.Object == "" {
		return m.Raw, nil
	}
	obs, err := js.ObjectStore(ctx, bus.ObjectStore)
	if err != nil {
		return nil, fmt.Errorf("opening object store %s: %w", bus.ObjectStore, err)
	}
	b, err := obs.GetBytes(ctx, m.Object)
	if err != nil {
		return nil, fmt.Errorf("reading mail %s from the object store: %w", m.Object, err)
	}
	return b, nil
}
