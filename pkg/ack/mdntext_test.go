package ack

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mssante"
)

func TestBuildMDNFromOutcome(t *testing.T) {
	schFail := events.Failure{Source: "CI-SIS_SDM-MR_2024.01", Pattern: "E_sdmmr_diagnostic", Location: "/ClinicalDocument/component[1]/structuredBody[1]", Text: "L'élément Diagnostic doit être présent."}
	cases := []struct {
		name       string
		o          events.MailOutcome
		cfg        func(*Config)
		original   bool
		disp       string
		errField   string
		subject    string
		texts      []string // must appear in the human part
		notTexts   []string
		origType   string
		origRecipt string
	}{
		{
			name:       "one document integrated",
			o:          outcome(okDoc("DOC00001.XML")),
			original:   true,
			disp:       "automatic-action/MDN-sent-automatically; processed",
			subject:    "XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			texts:      []string{"a été reçu et intégré", "Documents intégrés (1)", "DOC00001.XML", "Message : <orig-7@chu.test>"},
			notTexts:   []string{"non intégrés"},
			origType:   "message/rfc822",
			origRecipt: "rfc822;bal-app@bndmr.test",
		},
		{
			name:     "INS absent",
			o:        outcome(koDoc("DOC00001.XML", 903, "")),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "903^INS absent du document^applicationErrorCondition",
			subject:  "[KO Intégration système !][903] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			texts:    []string{"n'a pas pu être intégré", "903 INS absent du document", "Erreur 903"},
			origType: "text/rfc822-headers",
		},
		{
			name:     "INS inconsistent between METADATA and CDA",
			o:        outcome(koDoc("DOC00001.XML", 904, "INS de METADATA.XML différent de celui du CDA")),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "904^INS de METADATA.XML different de celui du CDA^applicationErrorCondition",
			subject:  "[KO Intégration système !][904] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			texts:    []string{"904 INS de METADATA.XML différent de celui du CDA"},
			origType: "text/rfc822-headers",
		},
		{
			name:     "INS incomplete",
			o:        outcome(koDoc("DOC00001.XML", 905, "")),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "905^INS incomplet (traits d'identite manquants)^applicationErrorCondition",
			subject:  "[KO Intégration système !][905] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			origType: "text/rfc822-headers",
		},
		{
			name:     "unknown patient",
			o:        outcome(koDoc("DOC00001.XML", 902, "")),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "902^Identifiant de patient inconnu^applicationErrorCondition",
			subject:  "[KO Intégration système !][902] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			origType: "text/rfc822-headers",
		},
		{
			name:     "validation failure with assertions and locations",
			o:        outcome(koDoc("DOC00001.XML", 906, "Document non conforme au schématron SDM-MR 2024.01", schFail)),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "906^Document non conforme au schematron SDM-MR 2024.01^applicationErrorCondition",
			subject:  "[KO Intégration système !][906] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			texts: []string{
				"Règles non respectées", "L'élément Diagnostic doit être présent.",
				"emplacement : /ClinicalDocument/component[1]/structuredBody[1]",
				"source : CI-SIS_SDM-MR_2024.01, règle E_sdmmr_diagnostic",
			},
			origType: "text/rfc822-headers",
		},
		{
			name: "several documents: the specific code wins, each one listed",
			o: outcome(
				koDoc("DOC00001.XML", 906, "Version SDM-MR 2019.01 non prise en charge"),
				okDoc("DOC00002.XML"),
				koDoc("DOC00003.XML", 905, "Traits d'identité incomplets : date de naissance absente"),
			),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "905^Traits d'identite incomplets : date de naissance absente (2 documents sur 3 non integres)^applicationErrorCondition",
			subject:  "[KO Intégration système !][905] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			texts: []string{
				"Documents non intégrés (2)", "DOC00001.XML", "Erreur 906 : Version SDM-MR 2019.01 non prise en charge",
				"DOC00003.XML", "Erreur 905 : Traits d'identité incomplets", "Documents intégrés (1)", "DOC00002.XML",
			},
			origType: "text/rfc822-headers",
		},
		{
			name: "whole mail rejected (hostile attachment)",
			o: func() events.MailOutcome {
				o := outcome()
				o.Rejected = &events.Rejection{Code: "zip_bomb", CISIS: 906, Reason: "Pièce jointe IHE_XDM.zip refusée : taille décompressée excessive"}
				return o
			}(),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "906^Piece jointe IHE_XDM.zip refusee : taille decompressee excessive^applicationErrorCondition",
			subject:  "[KO Intégration système !][906] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			texts:    []string{"Le message entier a été refusé : 906 Pièce jointe IHE_XDM.zip refusée", "[zip_bomb]"},
			origType: "text/rfc822-headers",
		},
		{
			name:     "no document at all",
			o:        outcome(),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "906^Aucun document CDA trouve dans le message^applicationErrorCondition",
			subject:  "[KO Intégration système !][906] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			origType: "text/rfc822-headers",
		},
		{
			name:     "legacy error syntax",
			o:        outcome(koDoc("DOC00001.XML", 902, "")),
			cfg:      func(c *Config) { c.LegacyErrorSyntax = true },
			disp:     "automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant de patient inconnu",
			errField: "902^Identifiant de patient inconnu^applicationErrorCondition",
			subject:  "[KO Intégration système !][902] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			origType: "text/rfc822-headers",
		},
		{
			name:     "unknown code from the validator is reported as 906",
			o:        outcome(koDoc("DOC00001.XML", 42, "Hachage SHA-1 différent de METADATA.XML")),
			disp:     "automatic-action/MDN-sent-automatically; processed/error",
			errField: "906^Hachage SHA-1 different de METADATA.XML^applicationErrorCondition",
			subject:  "[KO Intégration système !][906] XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			origType: "text/rfc822-headers",
		},
		{
			name: "no original recipient, subject still RFC 2047-encoded",
			o: func() events.MailOutcome {
				o := outcome(okDoc("DOC00001.XML"))
				o.OriginalRecipient = ""
				o.Subject = "=?UTF-8?q?XDM/1.0/DDM+SDM-MR_MARTIN_H=C3=A9l=C3=A8ne_01/02/2003?="
				return o
			}(),
			disp:       "automatic-action/MDN-sent-automatically; processed",
			subject:    "XDM/1.0/DDM+SDM-MR MARTIN Hélène 01/02/2003",
			origType:   "text/rfc822-headers",
			origRecipt: "-",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			var orig []byte
			if tc.original {
				orig = []byte(rawOriginal)
			}
			to, skip := recipients(cfg, tc.o)
			if skip != "" {
				t.Fatalf("no MDN: %s", skip)
			}
			m, b, err := buildMDN(cfg, tc.o, to, orig)
			if err != nil {
				t.Fatal(err)
			}
			v := readMDN(t, b)
			if v.subject != tc.subject {
				t.Errorf("Subject = %q, want %q", v.subject, tc.subject)
			}
			if from, _ := v.header.AddressList("From"); len(from) != 1 || from[0].Address != "hub@bndmr.test" {
				t.Errorf("From = %v", from)
			}
			if to, _ := v.header.AddressList("To"); len(to) != 1 || to[0].Address != "pfi@chu.test" {
				t.Errorf("To = %v", to)
			}
			for _, f := range []string{"In-Reply-To", "References"} {
				if got := v.header.Get(f); got != "<orig-7@chu.test>" {
					t.Errorf("%s = %q", f, got)
				}
			}
			if got, want := v.header.Get("Message-Id"), mssante.MDNMessageID("<orig-7@chu.test>", "", "bndmr.test"); got != want || got != m.MessageID {
				t.Errorf("Message-ID = %q, want %q", got, want)
			}
			if d, err := v.header.Date(); err != nil || !d.Equal(tc.o.ProcessedAt.Truncate(time.Second)) {
				t.Errorf("Date = %v (%v), want the outcome's ProcessedAt", d, err)
			}
			if got := v.field("Disposition"); got != tc.disp {
				t.Errorf("Disposition = %q, want %q", got, tc.disp)
			}
			if got := v.field("Error"); got != tc.errField {
				t.Errorf("Error = %q, want %q", got, tc.errField)
			}
			if got := v.field("Original-Message-Id"); got != "<orig-7@chu.test>" {
				t.Errorf("Original-Message-ID = %q", got)
			}
			if got := v.field("Final-Recipient"); got != "rfc822;hub@bndmr.test" {
				t.Errorf("Final-Recipient = %q", got)
			}
			if got := v.field("Reporting-Ua"); got != "bndmr.test; BNDMR hub" {
				t.Errorf("Reporting-UA = %q", got)
			}
			wantOR := tc.origRecipt
			switch wantOR {
			case "":
				wantOR = "rfc822;bal-app@bndmr.test"
			case "-":
				wantOR = ""
			}
			if got := v.field("Original-Recipient"); got != wantOR {
				t.Errorf("Original-Recipient = %q, want %q", got, wantOR)
			}
			if v.origType != tc.origType {
				t.Errorf("part 3 = %q, want %q", v.origType, tc.origType)
			}
			if !strings.Contains(string(v.orig), "Message-ID: <orig-7@chu.test>") {
				t.Errorf("part 3 does not quote the original's Message-ID:\n%s", v.orig)
			}
			if tc.origType == "text/rfc822-headers" && strings.Contains(string(v.orig), "UEsDBA") {
				t.Errorf("headers-only part carries the body")
			}
			for _, s := range tc.texts {
				if !strings.Contains(v.text, s) {
					t.Errorf("text lacks %q:\n%s", s, v.text)
				}
			}
			for _, s := range tc.notTexts {
				if strings.Contains(v.text, s) {
					t.Errorf("text has %q:\n%s", s, v.text)
				}
			}
		})
	}
}

// The entries of an XDM that hold the same bytes as a document taken once
// (issue 12: two subsets) are named in the acknowledgement, with what their
// own metadata got wrong: the warnings travel from mssante through the
// validator's outcome (mail and document warnings) to the text.
func TestTextNamesDuplicateEntries(t *testing.T) {
	raw, err := os.ReadFile("../mssante/testdata/quirks/xdm-two-subsets.eml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mssante.Unpack(context.Background(), raw, mssante.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	o := outcome()
	o.Warnings = m.Warnings // as the validator fills the outcome
	for _, d := range m.Documents {
		doc := okDoc(d.Name)
		doc.Warnings = d.Warnings
		o.Documents = append(o.Documents, doc)
	}
	got := text(o, verdict(o))
	for _, want := range []string{
		`Avertissement : the same file listed as "IHE_XDM/SUBSET02/DOC00001.XML": METADATA.XML size 7 differs`,
		`Avertissement : the same file is also listed as "IHE_XDM/SUBSET02/DOC00001.XML" with another uniqueId, 1.2.3.4.2`,
		`"IHE_XDM/SUBSET02/DOC00001.XML" (uniqueId 1.2.3.4.2) is the same file as "IHE_XDM/SUBSET01/DOC00001.XML" (uniqueId 1.2.3.4.1)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the text lacks %q:\n%s", want, got)
		}
	}
}
