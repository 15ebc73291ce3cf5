package mssante

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/cdasniff"
	"github.com/bndmr/hub/pkg/mailbuild"
)

// TestSniffCDAPatientStopsAfterRecordTarget: the patient sniff reads the
// header up to the end of recordTarget, all of it, and no further.
func TestSniffCDAPatientStopsAfterRecordTarget(t *testing.T) {
	h, ok := cdasniff.ReadPatient(tinyCDA("1234567890123"))
	if !ok || len(h.PatientIDs) != 1 || h.PatientIDs[0].Ext != "1234567890123" || h.BirthTime != "20240228" || h.Gender != "F" {
		t.Fatalf("patient sniff: %+v, %v", h, ok)
	}
	if h.Custodian != (cdasniff.ID{}) {
		t.Errorf("patient sniff read past recordTarget: custodian %v", h.Custodian)
	}
	if full, _ := cdasniff.Read(tinyCDA("1234567890123")); full.Custodian.Ext != "1750000000" {
		t.Errorf("full sniff: custodian %v", full.Custodian)
	}
}

// TestListedTwiceStrict: under StrictMetadata a file listed twice is
// accepted when the second listing agrees (one document, one duplicate)
// and refused when either its hash or its size alone disagrees.
func TestListedTwiceStrict(t *testing.T) {
	a := tinyCDA("1234567890123")
	listedTwice := func(second mailbuild.XDMDocument) []byte {
		second.Data, second.UniqueID = a, "1.2.3.2"
		md := metadataOf(t, mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a, UniqueID: "1.2.3.1"}, second}}))
		return mailOneSubset(t, bytes.ReplaceAll(md, []byte("DOC00002.XML"), []byte("DOC00001.XML")), a)
	}
	strict := DefaultLimits()
	strict.StrictMetadata = true
	m := unpackOK(t, listedTwice(mailbuild.XDMDocument{}), strict)
	if len(m.Documents) != 1 || len(m.Documents[0].Duplicates) != 1 || m.Documents[0].Duplicates[0].UniqueID != "1.2.3.2" {
		t.Errorf("documents %+v", m.Documents)
	}
	unpackRejected(t, listedTwice(mailbuild.XDMDocument{SizeOverride: int64(len(a)) + 1}), strict, CodeMetadataMismatch)
	unpackRejected(t, listedTwice(mailbuild.XDMDocument{HashOverride: strings.Repeat("0", 40)}), strict, CodeMetadataMismatch)
}

// TestNoCDAReasonNamesNestedReport: a mail holding only a delivery report
// inside it is refused for no CDA, and the reason says what it held.
func TestNoCDAReasonNamesNestedReport(t *testing.T) {
	report := "--rb\r\nContent-Type: text/plain\r\n\r\nDelivered.\r\n--rb--\r\n"
	raw := mailWith(t, mailbuild.MailSpec{Text: "Voir le rapport.", Parts: []mailbuild.Part{{
		ContentType: "multipart/report; report-type=delivery-status; boundary=rb", Encoding: "7bit", Data: []byte(report)}}})
	_, rej := unpackRejected(t, raw, DefaultLimits(), CodeNoCDA)
	if rej == nil || !strings.Contains(rej.Reason, "multipart/report (not opened)") {
		t.Errorf("rejection %+v", rej)
	}
}

// TestSniffTextIsTheElementsOwn: the texts the sniffer collects (title,
// patient name, custodian) are the element's own character data: an
// element nested in it (markup a producer slipped into a title, which the
// CDA types of these elements do not allow) does not pour its text in.
func TestSniffTextIsTheElementsOwn(t *testing.T) {
	doc := bytes.Replace(tinyCDA("1234567890123"), []byte("<title>SDM-MR</title>"),
		[]byte("<title>SDM-MR <b>brouillon</b></title>"), 1)
	h, ok := cdasniff.Read(doc)
	if !ok || h.Title != "SDM-MR" {
		t.Fatalf("title %q (%v), want %q", h.Title, ok, "SDM-MR")
	}
	if h.Family != "DUPONT" || h.Given != "Zoé" || h.CustodianName != "CHU" {
		t.Errorf("the texts after the nested element: %q %q %q", h.Family, h.Given, h.CustodianName)
	}
}
