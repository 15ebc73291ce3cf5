package validator

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/bndmr/hub/pkg/cisis/cisistest"
	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/mssante"
	"github.com/bndmr/hub/pkg/xmldoc"
)

// TestNewDefaults: a zero config gets two workers per core available and
// the default mail and XML limits; a config that sets them keeps its own.
func TestNewDefaults(t *testing.T) {
	v := New(Config{}, nil, zap.NewNop(), nil)
	if want := 2 * runtime.GOMAXPROCS(0); v.cfg.Workers != want {
		t.Errorf("workers %d, want %d (2 × GOMAXPROCS)", v.cfg.Workers, want)
	}
	if v.cfg.Limits != mssante.DefaultLimits() {
		t.Errorf("mail limits %+v, want the defaults", v.cfg.Limits)
	}
	if v.cfg.XML != xmldoc.DefaultLimits {
		t.Errorf("XML limits %+v, want the defaults", v.cfg.XML)
	}
	own := Config{Workers: 1, XML: xmldoc.Limits{MaxBytes: 1, MaxDepth: 1}}
	own.Limits = mssante.DefaultLimits()
	own.Limits.MaxMailBytes = 1
	v = New(own, nil, zap.NewNop(), nil)
	if v.cfg.Workers != 1 || v.cfg.XML != own.XML || v.cfg.Limits != own.Limits {
		t.Errorf("an explicit config was replaced: %+v", v.cfg)
	}
}

// TestCheckCounts: each mail and each document is counted once, by result,
// verdict and establishment: the operators' dashboards read these.
func TestCheckCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	v := New(Config{}, cisistest.Engine(t), zap.NewNop(), reg)
	good, _ := goodMail(t)
	notSDMMR := mailWith(t, mailbuild.XDMDocument{Data: readKit(t, "examples/other-cda/VAC_2023.01.xml")})
	m := events.MailRaw{MailID: "m1", ReceivedAt: time.Now()}
	for _, raw := range [][]byte{good, notSDMMR, []byte("not a mail")} {
		if _, err := v.Check(context.Background(), m, raw); err != nil {
			t.Fatal(err)
		}
	}
	res, err := v.Check(context.Background(), m, good)
	if err != nil || len(res.Extracted) != 1 || res.Extracted[0].DocIndex != 0 || res.Extracted[0].MailID != "m1" {
		t.Fatalf("good mail: %+v, %v", res, err)
	}
	finess := res.Outcome.Documents[0].FINESS
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"mails documents", testutil.ToFloat64(v.mails.WithLabelValues("documents")), 3},
		{"mails rejected", testutil.ToFloat64(v.mails.WithLabelValues("rejected")), 1},
		{"documents accepted", testutil.ToFloat64(v.docs.WithLabelValues("accepted", "")), 2},
		{"documents rejected", testutil.ToFloat64(v.docs.WithLabelValues("rejected", fmt.Sprint(events.CodeOther))), 1},
		{"establishment accepted", testutil.ToFloat64(v.byFINESS.WithLabelValues(finess, "accepted")), 2},
		{"establishment unknown rejected", testutil.ToFloat64(v.byFINESS.WithLabelValues("unknown", "rejected")), 1},
		{"documents timed", latencyCount(t, reg), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// latencyCount reads how many documents the latency histogram observed.
func latencyCount(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "bndmr_validator_document_seconds" {
			return float64(mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatal("bndmr_validator_document_seconds is not registered")
	return 0
}

// TestCheckKeepsMailWarnings: what Unpack read and noticed about the mail
// (its subject and header, here an XDM without METADATA.XML) reaches the
// outcome, for the acknowledgement.
func TestCheckKeepsMailWarnings(t *testing.T) {
	v := testValidator(t, Config{})
	good, _ := goodMail(t)
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	f, err := zw.Create("IHE_XDM/SUBSET01/DOC00001.XML")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(firstCDA(t, good))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := mailbuild.BuildMail(mailbuild.MailSpec{From: "dpi@chu.test", To: "hub@bndmr.test", Subject: "Envoi SDM-MR", XDM: z.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Check(context.Background(), events.MailRaw{MailID: "m1"}, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outcome.Warnings) == 0 || !strings.Contains(strings.Join(res.Outcome.Warnings, "\n"), "METADATA.XML") {
		t.Errorf("outcome warnings %q, want the missing METADATA.XML", res.Outcome.Warnings)
	}
	if o := res.Outcome; o.Subject != "Envoi SDM-MR" || o.IsReport || !strings.Contains(o.OriginalHeader, "From: dpi@chu.test") || o.From != "dpi@chu.test" {
		t.Errorf("outcome subject %q, report %v, from %q, header %q", o.Subject, o.IsReport, o.From, o.OriginalHeader)
	}
}
