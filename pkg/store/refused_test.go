package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

func TestRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"type mismatch", &clickhouse.Exception{Code: 53, Message: "Type mismatch"}, true},
		{"wrapped parse error", fmt.Errorf("insert: %w", &clickhouse.Exception{Code: 6}), true},
		{"driver conversion", &column.ColumnConverterError{Op: "Append", To: "UInt8", From: "string"}, true},
		{"read-only replica", &clickhouse.Exception{Code: 242, Message: "Table is in readonly mode"}, false},
		{"keeper away", &clickhouse.Exception{Code: 999}, false},
		{"unknown table (upgrade in progress)", &clickhouse.Exception{Code: 60}, false},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"deadline", context.DeadlineExceeded, false},
	} {
		if got := Refused(c.err); got != c.want {
			t.Errorf("%s: Refused = %v, want %v", c.name, got, c.want)
		}
	}
}
