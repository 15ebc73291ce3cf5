package mssante

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/bndmr/hub/pkg/mailbuild"
)

// BenchmarkUnpack measures whole mails per second: MIME, base64, unzip,
// METADATA.XML, SHA-1 and the CDA header sniff, on a mail built around the
// official 2024.01 new-born example (read from the kit).
func BenchmarkUnpack(b *testing.B) {
	cda := exampleCDA(b, newborn)
	pdf := make([]byte, 300<<10) // a PDF/A copy does not compress
	rand.Read(pdf)
	cases := []struct {
		name string
		spec mailbuild.MailSpec
	}{
		{"xdm", mailbuild.MailSpec{XDM: mustXDM(b, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}})}},
		{"xdm+pdf300k", mailbuild.MailSpec{XDM: mustXDM(b, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}}), PDF: pdf}},
		{"forwarded", mailbuild.MailSpec{Parts: []mailbuild.Part{{ContentType: "message/rfc822", Encoding: "8bit",
			Data: mailWith(b, mailbuild.MailSpec{XDM: mustXDM(b, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: cda}}})})}}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			raw := mailWith(b, c.spec)
			lim := DefaultLimits()
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				m, err := Unpack(ctx, raw, lim)
				if err != nil || len(m.Documents) != 1 {
					b.Fatalf("%v", err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
		})
	}
}
