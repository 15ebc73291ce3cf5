package synth

import (
	"fmt"
	"strings"

	"github.com/bndmr/hub/pkg/mailbuild"
	"github.com/bndmr/hub/pkg/mssante"
)

// HostileKinds are the hostile mails HostileMail makes, each named by the
// rejection code (pkg/mssante) the hub must refuse it with.
var HostileKinds = []string{mssante.CodeZipBomb, mssante.CodePathTraversal, mssante.CodeUnreadableMIME}

// HostileMail builds a mail the hub must refuse whole with the rejection
// code kind (one of HostileKinds). spec gives the envelope (From, To,
// MessageID, Date, Disposition-Notification-To, Return-Path); doc is the
// CDA document the archive carries beside the hostile entry, so that only
// the hostility explains the refusal:
//   - zip_bomb: an 8 MiB entry of zeros (a ratio far above the limit);
//   - path_traversal: an entry named IHE_XDM/../../etc/passwd;
//   - unreadable_mime: a multipart whose boundary never comes, binary junk.
func HostileMail(kind string, spec mailbuild.MailSpec, doc []byte) ([]byte, error) {
	var extra mailbuild.XDMFile
	switch kind {
	case mssante.CodeZipBomb:
		extra = mailbuild.XDMFile{Name: "IHE_XDM/SUBSET01/BOMB.XML", Data: make([]byte, 8<<20)}
	case mssante.CodePathTraversal:
		extra = mailbuild.XDMFile{Name: "IHE_XDM/../../etc/passwd", Data: []byte("root:x:0:0::/root:/bin/sh\n")}
	case mssante.CodeUnreadableMIME:
		return notMIME(spec), nil
	default:
		return nil, fmt.Errorf("no hostile mail of kind %q (known: %s)", kind, strings.Join(HostileKinds, ", "))
	}
	xdm, err := mailbuild.BuildXDM(mailbuild.XDM{Documents: []mailbuild.XDMDocument{{Data: doc}}, Extra: []mailbuild.XDMFile{extra}})
	if err != nil {
		return nil, fmt.Errorf("building the %s archive: %w", kind, err)
	}
	spec.XDM = xdm
	m, err := mailbuild.BuildMail(spec)
	if err != nil {
		return nil, fmt.Errorf("building the %s mail: %w", kind, err)
	}
	return m, nil
}

// notMIME is a mail announcing a multipart body whose boundary never comes,
// with binary junk: a broken or hostile sender.
func notMIME(s mailbuild.MailSpec) []byte {
	var b strings.Builder
	field := func(name, value string) {
		if value != "" {
			b.WriteString(name + ": " + value + "\r\n")
		}
	}
	if s.ReturnPath != "" {
		field("Return-Path", "<"+s.ReturnPath+">")
	}
	field("From", s.From)
	field("To", s.To)
	if !s.Date.IsZero() {
		field("Date", s.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	}
	field("Message-ID", s.MessageID)
	field("Disposition-Notification-To", s.DispositionNotificationTo)
	field("Subject", "not MIME")
	field("MIME-Version", "1.0")
	field("Content-Type", `multipart/mixed; boundary="never-there"`)
	b.WriteString("\r\n\x00\x01 PK\x03\x04 this is no MIME structure at all \xff\xfe\r\n--not-the-boundary\r\n")
	return []byte(b.String())
}
