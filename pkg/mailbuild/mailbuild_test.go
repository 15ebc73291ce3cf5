package mailbuild

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
)

const (
	newborn  = "SDM-MR_2024.01_nouveau-ne.xml"
	pregnant = "SDM-MR_2024.01_patiente-enceinte.xml"
)

// exampleCDA reads an official SDM-MR example document from the kit.
func exampleCDA(t testing.TB, name string) []byte {
	t.Helper()
	dir, err := kit.Dir()
	if err != nil {
		t.Fatalf("the CI-SIS kit is needed by these tests: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "examples", "sdm-mr", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustXDM(t testing.TB, x XDM) []byte {
	t.Helper()
	z, err := BuildXDM(x)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestBuildMail(t *testing.T) {
	cda := exampleCDA(t, newborn)
	spec := MailSpec{From: "dpi@chu-exemple.mssante.fr", To: "bamara@bndmr.mssante.fr",
		XDM: mustXDM(t, XDM{Documents: []XDMDocument{{Data: cda}}}), PDF: bytes.Repeat([]byte("%PDF"), 100),
		DispositionNotificationTo: "dpi@chu-exemple.mssante.fr",
		Header:                    []HeaderField{{"X-MSS-CODECDA", "34133-9"}}}
	raw, err := BuildMail(spec)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := BuildMail(spec); !bytes.Equal(raw, again) {
		t.Error("BuildMail is not deterministic")
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if strings.Contains(line, "\n") || len(line) > 998 {
			t.Fatalf("line %d is not a CRLF line of at most 998 octets", i+1)
		}
	}
	for _, want := range []string{
		"Content-Type: multipart/mixed; boundary=", "MIME-Version: 1.0", "Disposition-Notification-To: dpi@chu-exemple.mssante.fr",
		"X-MSS-CODECDA: 34133-9", "Content-Type: text/plain; charset=\"UTF-8\"", "Content-Transfer-Encoding: quoted-printable",
		"Content-Type: application/zip; name=IHE_XDM.zip", "Content-Disposition: attachment; filename=IHE_XDM.zip",
		"Content-Type: application/pdf; name=document.pdf",
		// RFC 2047, Q encoding: the title and the first name are accented.
		"Subject: =?UTF-8?q?XDM/1.0/DDM+Synth=C3=A8se_d'=C3=A9pisode_de_soins_DECOURCY_L?=",
	} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the mail lacks %q", want)
		}
	}
	if _, err := BuildMail(MailSpec{To: "x@y.fr"}); err == nil {
		t.Error("a mail without From was built")
	}
}

func TestSubjectFor(t *testing.T) {
	a := exampleCDA(t, newborn)
	b := exampleCDA(t, pregnant)
	cases := []struct {
		docs [][]byte
		want string
	}{
		{[][]byte{a}, "XDM/1.0/DDM+Synthèse d'épisode de soins DECOURCY Léa 28/02/2024"},
		{[][]byte{a, b}, "XDM/1.0/DDM+2 documents DECOURCY Léa 28/02/2024"},
		{[][]byte{[]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><code displayName="Un libellé beaucoup trop long pour tenir en quarante caractères"/>
			<recordTarget><patientRole><patient><name><family>Éléonore-Çà</family><given>Zoé Marie</given></name></patient></patientRole></recordTarget></ClinicalDocument>`)},
			"XDM/1.0/DDM+Un libellé beaucoup trop long pour tenir ELEONORE-CA Zoé"},
		{nil, "XDM/1.0/DDM"},
	}
	for _, c := range cases {
		if got := SubjectFor(c.docs...); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
