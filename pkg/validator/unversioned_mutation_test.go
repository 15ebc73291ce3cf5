package validator

import (
	"context"
	"regexp"
	"testing"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mailbuild"
)

// TestCheckUnversioned: a conforming document whose versionNumber is 0
// cannot be placed among its versions; it is refused as unversioned, a
// code of its own, not as a generic extraction failure.
func TestCheckUnversioned(t *testing.T) {
	v := testValidator(t, Config{})
	good, _ := goodMail(t)
	cda := regexp.MustCompile(`<versionNumber value="\d+"/>`).ReplaceAll(firstCDA(t, good), []byte(`<versionNumber value="0"/>`))
	res, err := v.Check(context.Background(), events.MailRaw{MailID: "m1"}, mailWith(t, mailbuild.XDMDocument{Data: cda}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outcome.Documents) != 1 || res.Outcome.Documents[0].Rejection == nil || res.Outcome.Documents[0].Rejection.Code != "unversioned" {
		t.Fatalf("outcome %+v", res.Outcome.Documents)
	}
}
