package mssante

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// ReceivedMDN is a disposition notification as the sender's staff read it:
// the header, the human-readable text and the machine-readable fields.
type ReceivedMDN struct {
	From, To, Subject string // Subject decoded (RFC 2047)
	Date              time.Time
	// From the message/disposition-notification part.
	OriginalMessageID string
	Disposition       string
	Error             string // the Error field; empty on success
	// Text is the human-readable part, decoded.
	Text string
}

// OK says whether the notification reports the mail integrated.
func (m *ReceivedMDN) OK() bool { return m.Disposition == DispositionOK }

// ReadMDN reads a received multipart/report disposition notification (RFC
// 8098), such as Bytes writes.
func ReadMDN(raw []byte) (*ReceivedMDN, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading the notification: %w", err)
	}
	h := msg.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		subject = h.Get("Subject")
	}
	m := &ReceivedMDN{From: h.Get("From"), To: h.Get("To"), Subject: subject}
	if d, err := h.Date(); err == nil {
		m.Date = d
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["boundary"] == "" {
		return nil, fmt.Errorf("not a multipart/report notification (Content-Type %q)", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	sawReport := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the notification's parts: %w", err)
		}
		// multipart decodes quoted-printable parts itself.
		body, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("reading the notification's parts: %w", err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case pt == "text/plain" && m.Text == "" && !sawReport:
			m.Text = strings.ReplaceAll(string(body), "\r\n", "\n")
		case pt == "message/disposition-notification":
			sawReport = true
			f, err := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(body), strings.NewReader("\r\n\r\n")))).ReadMIMEHeader()
			if err != nil {
				return nil, fmt.Errorf("reading the disposition fields: %w", err)
			}
			m.OriginalMessageID, m.Disposition, m.Error = f.Get("Original-Message-ID"), f.Get("Disposition"), f.Get("Error")
		}
	}
	if !sawReport {
		return nil, errors.New("the notification has no message/disposition-notification part")
	}
	return m, nil
}
