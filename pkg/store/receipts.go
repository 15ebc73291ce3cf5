package store

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/events"
)

// MaxFailuresStored bounds the failed assertions kept per document: as many
// as the MDN lists (pkg/ack), failure_count keeps the whole number.
const MaxFailuresStored = 30

// InsertReceipts writes one row per document of each mail outcome (one row
// for a mail rejected as a whole with no document), accepted or rejected.
// Keyed by (mail_id, doc_index): a redelivered outcome collapses on merge.
func (s *Store) InsertReceipts(ctx context.Context, outs []events.MailOutcome) error {
	_, err := s.WriteReceipts(ctx, outs)
	return err
}

// WriteReceipts is InsertReceipts, and returns the rows of versions it
// wrote (the documents that name their file and version), for the figures.
func (s *Store) WriteReceipts(ctx context.Context, outs []events.MailOutcome) ([]VersionSeen, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	paris := Paris()
	docs := 0
	for _, o := range outs {
		docs += max(1, len(o.Documents))
	}
	t := newRows(insertReceipts).sized(docs)
	vers := newRows(insertVersions).sized(docs)
	seen := make([]VersionSeen, 0, docs)
	for _, o := range outs {
		var mcode, mreason string
		if o.Rejected != nil {
			mcode, mreason = o.Rejected.Code, o.Rejected.Reason
		}
		received := o.ReceivedAt.In(paris)
		receivedDay := time.Date(received.Year(), received.Month(), received.Day(), 0, 0, 0, 0, time.UTC)
		dom := senderDomain(o.From)
		if len(o.Documents) == 0 {
			code, cisis, reason := mcode, uint16(0), mreason
			if o.Rejected != nil {
				cisis = uint16(o.Rejected.CISIS)
			} else {
				code, reason = "no_document", "the mail carried no document"
			}
			t.add(receiptRow{MailID: o.MailID, Mailbox: o.Mailbox, ReceivedAt: o.ReceivedAt.UTC(), ProcessedAt: o.ProcessedAt.UTC(),
				SenderDomain: dom, MailRejectionCode: mcode, MailRejectionReason: mreason, EffectiveDate: receivedDay,
				RejectionCode: code, CISISCode: cisis, RejectionReason: reason, FailurePatterns: []string{},
				FailureSources: []string{}, FailureRules: []string{}, FailureLocations: []string{}, FailureTexts: []string{}})
			continue
		}
		for i, d := range o.Documents {
			day, err := EffectiveDate(d.EffectiveTime, paris)
			if err != nil {
				day = receivedDay
			}
			var code, reason string
			var cisis uint16
			switch {
			case d.Rejection != nil:
				code, cisis, reason = d.Rejection.Code, uint16(d.Rejection.CISIS), d.Rejection.Reason
			case !d.Accepted && o.Rejected != nil:
				code, cisis, reason = o.Rejected.Code, uint16(o.Rejected.CISIS), o.Rejected.Reason
			case !d.Accepted:
				code, reason = "rejected", "rejected without a reason"
			}
			patterns := make([]string, 0, len(d.Failures))
			for _, f := range d.Failures {
				patterns = append(patterns, f.Source+":"+f.Pattern)
			}
			// Parallel arrays, in the validator's order, as the MDN lists them.
			kept := d.Failures[:min(len(d.Failures), MaxFailuresStored)]
			sources, rules, locations, texts := make([]string, len(kept)), make([]string, len(kept)), make([]string, len(kept)), make([]string, len(kept))
			for j, f := range kept {
				sources[j], rules[j], locations[j], texts[j] = f.Source, f.Pattern, f.Location, f.Text
			}
			if d.SetID != "" && d.FINESS != "" && d.VersionNumber > 0 {
				vr := versionRow{FINESS: d.FINESS, SetID: d.SetID, VersionNumber: uint32(d.VersionNumber), Source: "receipt",
					EffectiveDate: day, Accepted: boolU8(d.Accepted), Created: time.Unix(0, 0).UTC()}
				vers.add(vr)
				seen = append(seen, VersionSeen{FINESS: vr.FINESS, SetID: vr.SetID, Version: vr.VersionNumber,
					Date: vr.EffectiveDate, Accepted: d.Accepted, Created: vr.Created})
			}
			t.add(receiptRow{MailID: o.MailID, Mailbox: o.Mailbox, ReceivedAt: o.ReceivedAt.UTC(), ProcessedAt: o.ProcessedAt.UTC(),
				SenderDomain: dom, MailRejectionCode: mcode, MailRejectionReason: mreason, DocIndex: uint16(i), DocName: d.Name,
				FINESS: d.FINESS, SetID: d.SetID, VersionNumber: uint32(d.VersionNumber), EffectiveTime: d.EffectiveTime,
				EffectiveDate: day, ModelVersion: d.ModelVersion, Accepted: boolU8(d.Accepted), RejectionCode: code,
				CISISCode: cisis, RejectionReason: reason, FailureCount: uint32(len(d.Failures)), FailurePatterns: patterns,
				FailureSources: sources, FailureRules: rules, FailureLocations: locations, FailureTexts: texts})
		}
	}
	return seen, s.send(ctx, vers, t)
}

// senderDomain keeps only the domain of the sender: the establishment's
// MSSanté domain says who sent, the local part may name a person.
func senderDomain(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	if _, dom, ok := strings.Cut(from, "@"); ok {
		return strings.ToLower(strings.TrimSpace(dom))
	}
	return ""
}

// EstablishmentCount is the number of distinct document versions of one
// establishment.
type EstablishmentCount struct {
	FINESS    string
	Versions  uint64
	Sets      uint64
	LastMonth string
}

// DocumentsPerEstablishment counts distinct (set, version) per FINESS.
func (s *Store) DocumentsPerEstablishment(ctx context.Context) ([]EstablishmentCount, error) {
	var out []EstablishmentCount
	err := s.Each(ctx, documentsPerEstablishment, nil, func(rows Scanner) error {
		var c EstablishmentCount
		if err := rows.Scan(&c.FINESS, &c.Versions, &c.Sets, &c.LastMonth); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting documents per establishment: %w", err)
	}
	return out, nil
}
