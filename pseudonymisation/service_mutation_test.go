package pseudonymisation

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
)

// TestServiceRegistersItsCounter: the records counter is served on the
// registry the service is given.
func TestServiceRegistersItsCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := NewService(testPseudonymiser(t, Options{}), zap.NewNop(), reg)
	s.records.WithLabelValues("record").Inc()
	if n, err := testutil.GatherAndCount(reg, "bndmr_pseudonymisation_records_total"); err != nil || n != 1 {
		t.Errorf("bndmr_pseudonymisation_records_total on the registry: %d series, %v", n, err)
	}
}
