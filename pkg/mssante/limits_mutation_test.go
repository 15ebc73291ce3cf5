package mssante

import (
	"reflect"
	"testing"

	"github.com/bndmr/hub/pkg/mailbuild"
)

// TestWithDefaults: every zero or negative limit takes its default, every
// positive one stays, and StrictMetadata is the caller's.
func TestWithDefaults(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != DefaultLimits() {
		t.Errorf("zero limits: %+v, want the defaults %+v", got, DefaultLimits())
	}
	var neg, one Limits
	nv, ov := reflect.ValueOf(&neg).Elem(), reflect.ValueOf(&one).Elem()
	for i := 0; i < nv.NumField(); i++ {
		switch nv.Field(i).Kind() {
		case reflect.Int, reflect.Int64:
			nv.Field(i).SetInt(-1)
			ov.Field(i).SetInt(1)
		case reflect.Float64:
			nv.Field(i).SetFloat(-1)
			ov.Field(i).SetFloat(1)
		case reflect.Bool:
			ov.Field(i).SetBool(true)
		default:
			t.Fatalf("Limits.%s: a kind this test does not know", nv.Type().Field(i).Name)
		}
	}
	if got := neg.withDefaults(); got != DefaultLimits() {
		t.Errorf("negative limits: %+v, want the defaults", got)
	}
	if got := one.withDefaults(); got != one {
		t.Errorf("explicit limits replaced: %+v, want %+v", got, one)
	}
}

// TestMetadataSizeLimit: a METADATA.XML of exactly MaxMetadataBytes is
// read; one byte over the limit, the archive is refused.
func TestMetadataSizeLimit(t *testing.T) {
	z := mustXDM(t, mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: tinyCDA("1234567890123")}}})
	size := int64(len(metadataOf(t, z)))
	raw := mailWith(t, mailbuild.MailSpec{XDM: z})
	lim := DefaultLimits()
	lim.MaxMetadataBytes = size
	if m := unpackOK(t, raw, lim); len(m.Documents) != 1 {
		t.Errorf("at the limit: %d documents", len(m.Documents))
	}
	lim.MaxMetadataBytes = size - 1
	unpackRejected(t, raw, lim, CodeBadMetadata)
}
