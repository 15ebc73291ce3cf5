package mssante

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/xds"
)

// TestMetadataEntryNamedByID: a METADATA.XML entry without a uniqueId is
// named in the warnings by its registry id, so that the operator can find
// it in the file.
func TestMetadataEntryNamedByID(t *testing.T) {
	a := tinyCDA("1234567890123")
	md := metadataOf(t, mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: a, UniqueID: "1.2.3.1"}}}))
	id := regexp.MustCompile(`ExtrinsicObject id="([^"]+)"`).FindSubmatch(md)
	if id == nil {
		t.Fatalf("no ExtrinsicObject in\n%s", md)
	}
	// No URI slot, and no uniqueId either by scheme or by name.
	for _, r := range [][2]string{{`name="URI"`, `name="X-URI"`}, {xds.SchemeDocUniqueID, "urn:uuid:0"}, {"XDSDocumentEntry.uniqueId", "X.uniqueId"}} {
		if !bytes.Contains(md, []byte(r[0])) {
			t.Fatalf("METADATA.XML has no %s", r[0])
		}
		md = bytes.ReplaceAll(md, []byte(r[0]), []byte(r[1]))
	}
	m := unpackOK(t, mailOneSubset(t, md, a), DefaultLimits())
	want := `lists document "` + string(id[1]) + `" without a URI slot`
	if !hasWarning(m.Warnings, want) {
		t.Errorf("no warning %q in %q", want, m.Warnings)
	}
}
