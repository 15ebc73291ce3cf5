package ack

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bndmr/hub/pkg/service"
)

type metrics struct {
	sent       *prometheus.CounterVec // by code: "ok" or 902..906
	rejected   prometheus.Counter     // 5xx: recorded, never retried
	gaveUp     prometheus.Counter     // temporary failures until the last delivery
	skipped    *prometheus.CounterVec // by reason
	attempts   *prometheus.CounterVec // SMTP transactions by result
	resent     prometheus.Counter     // resends after a crash between send and record
	invalid    prometheus.Counter     // outcomes that cannot be answered at all
	sendTime   prometheus.Histogram
	unquotable prometheus.Counter // original not found: header quoted instead
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bndmr_ack_mdn_sent_total",
			Help: "MDNs accepted by the SMTP server, by CI-SIS code (ok for processed).",
		}, []string{"code"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bndmr_ack_mdn_rejected_total",
			Help: "MDNs the SMTP server refused for good (5xx); recorded, not retried.",
		}),
		gaveUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bndmr_ack_mdn_gave_up_total",
			Help: "MDNs abandoned after temporary SMTP failures on every delivery.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bndmr_ack_skipped_total",
			Help: "Outcomes answered by no MDN, by reason.",
		}, []string{"reason"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bndmr_ack_smtp_attempts_total",
			Help: "SMTP submissions by result: ok, temporary, permanent.",
		}, []string{"result"}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bndmr_ack_mdn_resent_total",
			Help: "MDNs sent again, byte-identical, after a stop between submission and record.",
		}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bndmr_ack_outcomes_invalid_total",
			Help: "Outcome events that could not be read or answered at all.",
		}),
		sendTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bndmr_ack_smtp_seconds",
			Help:    "Duration of one SMTP submission.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		unquotable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bndmr_ack_original_missing_total",
			Help: "MDNs quoting only the original's header because the raw mail was no longer in the stream.",
		}),
	}
	// A service restarted in the same process finds its metrics there
	// already and keeps counting on them.
	var err error
	m.sent = register(reg, m.sent, &err)
	m.rejected = register(reg, m.rejected, &err)
	m.gaveUp = register(reg, m.gaveUp, &err)
	m.skipped = register(reg, m.skipped, &err)
	m.attempts = register(reg, m.attempts, &err)
	m.resent = register(reg, m.resent, &err)
	m.invalid = register(reg, m.invalid, &err)
	m.sendTime = register(reg, m.sendTime, &err)
	m.unquotable = register(reg, m.unquotable, &err)
	// The known codes start at 0, for the rules and the dashboard.
	for _, code := range []string{"ok", "902", "903", "904", "905", "906"} {
		m.sent.WithLabelValues(code)
	}
	if err != nil {
		return nil, fmt.Errorf("registering ack metrics: %w", err)
	}
	return m, nil
}

func register[C prometheus.Collector](reg *prometheus.Registry, c C, errp *error) C {
	c, err := service.Register(reg, c)
	if err != nil && *errp == nil {
		*errp = err
	}
	return c
}
