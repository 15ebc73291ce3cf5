package mssante

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bndmr/hub/pkg/kit"
	"github.com/bndmr/hub/pkg/mailbuild"
)

// kitPath returns a path inside the CI-SIS folder (../shared/ci-sis).
func kitPath(t testing.TB, rel ...string) string {
	t.Helper()
	dir, err := kit.Dir()
	if err != nil {
		t.Fatalf("the CI-SIS kit is needed by these tests: %v", err)
	}
	return filepath.Join(append([]string{dir}, rel...)...)
}

// exampleCDA reads an official SDM-MR example document from the kit.
func exampleCDA(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(kitPath(t, "examples", "sdm-mr", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	newborn  = "SDM-MR_2024.01_nouveau-ne.xml"
	pregnant = "SDM-MR_2024.01_patiente-enceinte.xml"
)

// zipTree zips a folder of the kit at run time (the samples are never copied
// into the repository). rename may change each entry name.
func zipTree(t testing.TB, root string, rename func(string) string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if rename != nil {
			name = rename(name)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipFiles builds a zip from name/data pairs, deflated, in order.
func zipFiles(t testing.TB, files ...mailbuild.XDMFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// metadataOf is the METADATA.XML of SUBSET01 of the archive z, as readZip
// reads it; the test fails when z is refused or has none.
func metadataOf(t testing.TB, z []byte) []byte {
	t.Helper()
	entries, _, rej := readZip(t.Context(), z, "x", DefaultLimits(), &zipBudget{left: 1 << 30})
	if rej != nil {
		t.Fatal(rej)
	}
	for _, e := range entries {
		if e.key == "ihe_xdm/subset01/metadata.xml" {
			return e.Data
		}
	}
	t.Fatal("no METADATA.XML in the archive")
	return nil
}

// mailOneSubset is a mail whose XDM holds SUBSET01 alone: metadata as its
// METADATA.XML and doc as DOC00001.XML.
func mailOneSubset(t testing.TB, metadata, doc []byte) []byte {
	t.Helper()
	return mailWith(t, mailbuild.MailSpec{XDM: zipFiles(t, mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/METADATA.XML", Data: metadata},
		mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/DOC00001.XML", Data: doc})})
}

func mustXDM(t testing.TB, x mailbuild.XDM) []byte {
	t.Helper()
	z, err := mailbuild.BuildXDM(x)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// mailWith builds a standard MSSanté mail around an XDM archive.
func mailWith(t testing.TB, s mailbuild.MailSpec) []byte {
	t.Helper()
	if s.From == "" {
		s.From = "dpi@chu-exemple.mssante.fr"
	}
	if s.To == "" {
		s.To = "bamara@bndmr.mssante.fr"
	}
	raw, err := mailbuild.BuildMail(s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unpackOK unpacks and fails the test on a rejection.
func unpackOK(t testing.TB, raw []byte, lim Limits) *Mail {
	t.Helper()
	m, err := Unpack(context.Background(), raw, lim)
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if m == nil || len(m.Documents) == 0 {
		t.Fatalf("Unpack returned no document and no error")
	}
	return m
}

// unpackRejected unpacks and checks the rejection code.
func unpackRejected(t testing.TB, raw []byte, lim Limits, code string) (*Mail, *RejectError) {
	t.Helper()
	m, err := Unpack(context.Background(), raw, lim)
	var rej *RejectError
	if !errors.As(err, &rej) {
		t.Fatalf("Unpack: want a rejection %s, got err=%v", code, err)
	}
	if rej.Code != code {
		t.Fatalf("Unpack: want code %s, got %s (%s)", code, rej.Code, rej.Reason)
	}
	if rej.Reason == "" || rej.ReasonFR == "" {
		t.Fatalf("rejection %s lacks a reason: %+v", code, rej)
	}
	if m == nil {
		t.Fatalf("Unpack returned a nil Mail with the rejection")
	}
	if len(m.Documents) != 0 {
		t.Fatalf("a rejected mail carries %d documents", len(m.Documents))
	}
	return m, rej
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}
