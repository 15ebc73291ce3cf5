// Package schemas embeds the versioned ClickHouse migrations and the JSON
// Schemas of the events, so that binaries carry them and tests check them.
// It is a module of its own because Go can only embed files inside a module,
// and the repository layout keeps the schemas at the top level.
package schemas

import "embed"

// ClickHouse holds clickhouse/NNNN_name.sql, applied in order.
//
//go:embed clickhouse/*.sql
var ClickHouse embed.FS

// Events holds events/*.json (JSON Schema of every event type).
//
//go:embed all:events
var Events embed.FS
