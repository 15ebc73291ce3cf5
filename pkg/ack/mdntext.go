package ack

import (
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/bndmr/hub/pkg/events"
	"github.com/bndmr/hub/pkg/mssante"
)

// Standard labels of the CI-SIS applicationErrorCondition codes.
var codeLabels = map[int]string{
	900:                        "Version de document incorrecte",
	901:                        "Auteur non autorisé à remplacer ou supprimer le document",
	events.CodeUnknownPatient:  "Identifiant de patient inconnu",
	events.CodeINSAbsent:       "INS absent du document",
	events.CodeINSInconsistent: "INS incohérent entre METADATA.XML et le document CDA",
	events.CodeINSIncomplete:   "INS incomplet (traits d'identité manquants)",
	events.CodeOther:           "Erreur autre",
}

// verdict is the mail-level result: nil when every document was integrated.
// A whole-mail rejection wins; otherwise the first document failure with a
// specific code (902–905), else the first failure.
func verdict(o events.MailOutcome) *mssante.MDNError {
	if r := o.Rejected; r != nil {
		return &mssante.MDNError{Code: codeOf(r), Label: labelOf(r)}
	}
	var first *events.Rejection
	failed := 0
	for i := range o.Documents {
		d := &o.Documents[i]
		if d.Accepted {
			continue
		}
		failed++
		r := d.Rejection
		if r == nil {
			r = &events.Rejection{CISIS: events.CodeOther, Reason: "document non intégré"}
		}
		if first == nil || (codeOf(first) == events.CodeOther && codeOf(r) != events.CodeOther) {
			first = r
		}
	}
	switch {
	case len(o.Documents) == 0:
		return &mssante.MDNError{Code: events.CodeOther, Label: "Aucun document CDA trouvé dans le message"}
	case first == nil:
		return nil
	}
	label := labelOf(first)
	if failed > 1 {
		label = fmt.Sprintf("%s (%d documents sur %d non intégrés)", label, failed, len(o.Documents))
	}
	return &mssante.MDNError{Code: codeOf(first), Label: label}
}

func codeOf(r *events.Rejection) int {
	if _, ok := codeLabels[r.CISIS]; ok {
		return r.CISIS
	}
	return events.CodeOther
}

// labelOf is the precise reason when there is one, else the code's label.
func labelOf(r *events.Rejection) string {
	if s := strings.TrimSpace(r.Reason); s != "" {
		return s
	}
	return codeLabels[codeOf(r)]
}

// maxFailuresListed bounds the failed assertions listed per document: the
// text is for a person, the validator's report has the rest.
const maxFailuresListed = 30

// Text is the human-readable part of the MDN for o, in French (the
// reception report is tested against it).
func Text(o events.MailOutcome) string { return text(o, verdict(o)) }

// text writes the human-readable part, in French.
func text(o events.MailOutcome, v *mssante.MDNError) string {
	var b strings.Builder
	if v == nil {
		b.WriteString("Le message ci-dessous a été reçu et intégré automatiquement dans la BNDMR (Banque Nationale de Données Maladies Rares).\n")
	} else {
		fmt.Fprintf(&b, "Le message ci-dessous n'a pas pu être intégré automatiquement dans la BNDMR (Banque Nationale de Données Maladies Rares) pour la raison suivante :\n\n    %d %s\n", v.Code, v.Label)
	}
	b.WriteString("\n")
	if o.MessageID != "" {
		fmt.Fprintf(&b, "Message : %s\n", mssante.AngleID(o.MessageID))
	}
	if s := decodeSubject(o.Subject); s != "" {
		fmt.Fprintf(&b, "Objet : %s\n", s)
	}
	if !o.ReceivedAt.IsZero() {
		fmt.Fprintf(&b, "Reçu le : %s\n", frenchTime(o.ReceivedAt))
	}
	if !o.ProcessedAt.IsZero() {
		fmt.Fprintf(&b, "Traité le : %s\n", frenchTime(o.ProcessedAt))
	}
	if r := o.Rejected; r != nil {
		fmt.Fprintf(&b, "\nLe message entier a été refusé : %d %s", codeOf(r), labelOf(r))
		if r.Code != "" {
			fmt.Fprintf(&b, " [%s]", r.Code)
		}
		b.WriteString("\n")
	}
	var ok, ko []events.DocumentOutcome
	for _, d := range o.Documents {
		if d.Accepted {
			ok = append(ok, d)
		} else {
			ko = append(ko, d)
		}
	}
	if len(ko) > 0 {
		fmt.Fprintf(&b, "\nDocuments non intégrés (%d) :\n", len(ko))
		for _, d := range ko {
			fmt.Fprintf(&b, "\n  - %s\n", docName(d))
			r := d.Rejection
			if r == nil {
				r = &events.Rejection{CISIS: events.CodeOther}
			}
			fmt.Fprintf(&b, "    Erreur %d : %s\n", codeOf(r), labelOf(r))
			if len(d.Failures) > 0 {
				b.WriteString("    Règles non respectées :\n")
			}
			for i, f := range d.Failures {
				if i == maxFailuresListed {
					fmt.Fprintf(&b, "      … et %d autres\n", len(d.Failures)-i)
					break
				}
				fmt.Fprintf(&b, "      * %s\n", oneLine(f.Text))
				if where := f.Where(); where != "" {
					fmt.Fprintf(&b, "        (%s)\n", where)
				}
			}
			for _, w := range d.Warnings {
				fmt.Fprintf(&b, "    Avertissement : %s\n", oneLine(w))
			}
		}
	}
	if len(ok) > 0 {
		fmt.Fprintf(&b, "\nDocuments intégrés (%d) :\n", len(ok))
		for _, d := range ok {
			fmt.Fprintf(&b, "  - %s\n", docName(d))
			for _, w := range d.Warnings {
				fmt.Fprintf(&b, "    Avertissement : %s\n", oneLine(w))
			}
		}
	}
	if len(o.Warnings) > 0 {
		b.WriteString("\nAvertissements sur le message :\n")
		for _, w := range o.Warnings {
			fmt.Fprintf(&b, "  - %s\n", oneLine(w))
		}
	}
	b.WriteString("\nCe message est un accusé de traitement automatique (RFC 8098) ; merci de ne pas y répondre.\n")
	return b.String()
}

func docName(d events.DocumentOutcome) string {
	s := oneLine(d.Name)
	if s == "" {
		s = "(document sans nom)"
	}
	var ids []string
	if d.DocumentID != "" {
		ids = append(ids, "id "+oneLine(d.DocumentID))
	}
	if d.VersionNumber > 0 {
		ids = append(ids, fmt.Sprintf("version %d", d.VersionNumber))
	}
	if d.ModelVersion != "" {
		ids = append(ids, "modèle SDM-MR "+oneLine(d.ModelVersion))
	}
	if len(ids) > 0 {
		s += " (" + strings.Join(ids, ", ") + ")"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var paris = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.UTC
}()

func frenchTime(t time.Time) string {
	return t.In(paris).Format("02/01/2006 à 15:04:05 (heure de Paris)")
}

// decodeSubject accepts a subject decoded or still RFC 2047-encoded.
func decodeSubject(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
			s = d
		}
	}
	return oneLine(s)
}

// buildMDN renders the MDN for o. original is the whole original message,
// or nil to quote its header only.
func buildMDN(cfg Config, o events.MailOutcome, to []string, original []byte) (*mssante.MDN, []byte, error) {
	v := verdict(o)
	m := &mssante.MDN{
		From:              cfg.HubAddress,
		To:                to,
		MessageID:         mssante.MDNMessageID(o.MessageID, o.MailID, cfg.MessageIDDomain),
		Date:              mdnDate(o),
		Subject:           decodeSubject(o.Subject),
		ReportingUA:       cfg.ReportingUA,
		OriginalRecipient: o.OriginalRecipient,
		FinalRecipient:    cfg.HubAddress,
		OriginalMessageID: o.MessageID,
		Error:             v,
		LegacyError:       cfg.LegacyErrorSyntax,
		Text:              text(o, v),
		Original:          original,
		OriginalHeader:    []byte(o.OriginalHeader),
	}
	if original == nil && strings.TrimSpace(o.OriginalHeader) == "" {
		m.OriginalHeader = []byte(minimalHeader(o))
	}
	b, err := m.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("building the MDN for mail %s: %w", o.MailID, err)
	}
	return m, b, nil
}

// mdnDate comes from the outcome, so that a resend is byte-identical.
func mdnDate(o events.MailOutcome) time.Time {
	if !o.ProcessedAt.IsZero() {
		return o.ProcessedAt.Truncate(time.Second)
	}
	return o.ReceivedAt.Truncate(time.Second)
}

// minimalHeader stands for the original when neither it nor its header
// block travelled.
func minimalHeader(o events.MailOutcome) string {
	var b strings.Builder
	for _, f := range [][2]string{{"Message-ID", o.MessageID}, {"From", o.From}, {"Subject", o.Subject}} {
		if v := oneLine(f[1]); v != "" {
			b.WriteString(f[0] + ": " + v + "\r\n")
		}
	}
	return b.String()
}
