package store

import (
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// refusedCodes are the ClickHouse exceptions that say the rows themselves
// are wrong: the same insert would fail again, whenever it is tried. Every
// other error (server away, timeout, Keeper lost, read-only replica, a
// missing table during an upgrade) may pass later and is retried.
var refusedCodes = map[int32]string{
	6:   "CANNOT_PARSE_TEXT",
	27:  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
	38:  "CANNOT_PARSE_DATE",
	41:  "CANNOT_PARSE_DATETIME",
	53:  "TYPE_MISMATCH",
	69:  "ARGUMENT_OUT_OF_BOUND",
	70:  "CANNOT_CONVERT_TYPE",
	117: "INCORRECT_DATA",
	131: "TOO_LARGE_STRING_SIZE",
	321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
}

// Refused reports whether err says that ClickHouse, or the driver before
// sending, refused the rows of an insert for what they hold: no retry can
// succeed, and the loader quarantines the event instead.
func Refused(err error) bool {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		_, ok := refusedCodes[ex.Code]
		return ok
	}
	var conv *column.ColumnConverterError
	var col *column.Error
	return errors.As(err, &conv) || errors.As(err, &col)
}
