package app

import (
	"time"

	"go.uber.org/zap"
)

func stringsField(k string, v []string) zap.Field       { return zap.Strings(k, v) }
func durationField(k string, v time.Duration) zap.Field { return zap.Duration(k, v) }
func zapError(err error) zap.Field                      { return zap.Error(err) }
