package ack

import (
	"bufio"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/bndmr/hub/pkg/events"
)

// Why an outcome gets no MDN (metric label "reason").
const (
	skipReport        = "report"              // the original is itself an MDN or DSN
	skipOwnAddress    = "own_address"         // the original comes from the hub
	skipNullSender    = "null_return_path"    // Return-Path <>: a bounce or notification
	skipNoRequest     = "no_request"          // no Disposition-Notification-To, not configured to answer anyway
	skipMismatch      = "return_path_differs" // RFC 8098 §2.1 loop protection
	skipNoReturnPath  = "return_path_absent"  // nothing to compare Disposition-Notification-To with
	skipBadAddress    = "bad_address"         // no usable notification address
	skipAlreadyDone   = "already_recorded"    // an MDN for this Message-ID is recorded
	skipOtherMailBusy = "other_mail_sending"  // another mail with the same Message-ID is being answered
)

// recipients says to whom the MDN for o goes, or why none is sent.
func recipients(cfg Config, o events.MailOutcome) (to []string, skip string) {
	hub := strings.ToLower(cfg.HubAddress)
	if o.IsReport || headerSaysReport(o.OriginalHeader) {
		return nil, skipReport
	}
	if from := addrs(o.From); len(from) > 0 && from[0] == hub {
		return nil, skipOwnAddress
	}
	rp := strings.TrimSpace(o.ReturnPath)
	if rp == "<>" {
		return nil, skipNullSender
	}
	rpAddrs := addrs(rp)
	if strings.TrimSpace(o.DispositionNotificationTo) == "" {
		if !cfg.AnswerWithoutRequest {
			return nil, skipNoRequest
		}
		to = addrs(o.From)
		if len(to) == 0 {
			return nil, skipBadAddress
		}
		return to[:1], ""
	}
	for _, a := range addrs(o.DispositionNotificationTo) {
		if a == hub {
			return nil, skipOwnAddress
		}
		to = append(to, a)
	}
	if len(to) == 0 {
		return nil, skipBadAddress
	}
	if !cfg.AnswerReturnPathMismatch {
		if len(rpAddrs) == 0 {
			return nil, skipNoReturnPath
		}
		for _, a := range to {
			if a != rpAddrs[0] {
				return nil, skipMismatch
			}
		}
	}
	return to, ""
}

// headerSaysReport looks at the original's header itself, in case the
// outcome's IsReport was not set: a report (MDN, DSN) or an automatic
// message (RFC 3834 Auto-Submitted) is never answered.
func headerSaysReport(h string) bool {
	// An outcome written before the validator skipped a byte-order mark or
	// ended the header at a boundary line may still carry them.
	h = strings.TrimLeft(strings.TrimPrefix(h, "\ufeff"), " \t\r\n")
	if i := strings.Index(h, "\n--"); i >= 0 {
		h = h[:i+1]
	}
	if strings.TrimSpace(h) == "" {
		return false
	}
	if !strings.HasSuffix(h, "\n\n") && !strings.HasSuffix(h, "\r\n\r\n") {
		h += "\r\n\r\n"
	}
	hdr, err := textproto.NewReader(bufio.NewReader(strings.NewReader(h))).ReadMIMEHeader()
	if err != nil && len(hdr) == 0 {
		return false
	}
	if as := strings.ToLower(strings.TrimSpace(hdr.Get("Auto-Submitted"))); as != "" && as != "no" {
		return true
	}
	ct := strings.ToLower(strings.TrimSpace(hdr.Get("Content-Type")))
	return strings.HasPrefix(ct, "multipart/report")
}

// addrs parses an address list leniently and returns the addr-specs,
// lower-cased, that are safe to put in SMTP commands.
func addrs(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		// A bare addr-spec in angle brackets or alone.
		a := strings.Trim(s, "<> ")
		if !isAddr(a) {
			return nil
		}
		list = []*mail.Address{{Address: a}}
	}
	var out []string
	for _, a := range list {
		if addr := strings.ToLower(a.Address); isAddr(addr) && isASCII(addr) {
			out = append(out, addr)
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < 0x20 {
			return false
		}
	}
	return true
}
