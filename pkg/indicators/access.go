package indicators

import (
	"net/http"

	"github.com/bndmr/hub/pkg/access"
)

// route is one route of the service and who may call it (docs/security.md).
type route struct {
	pattern string // ServeMux pattern
	name    string // in the access journal
	rule    access.Rule
	h       http.HandlerFunc
}

var (
	operator      = access.Operator
	ministry      = access.Ministry
	establishment = access.Establishment
	analyst       = access.Analyst
)

// routes lists every route with its rule: the establishment role reaches
// only the figures of its own FINESS (Scoped), the analyst only the
// epidemiology, and only operators change declared counts.
func (s *Server) routes() []route {
	return []route{
		// Establishments are sent on to their reception report.
		{"GET /{$}", "/", access.Rule{Roles: []access.Role{operator, ministry, establishment}}, s.dashboard},
		{"GET /api/mr2", "/api/mr2", access.Rule{Roles: []access.Role{operator, ministry, establishment}, Scoped: true}, s.mr2},
		{"GET /api/mr1", "/api/mr1", access.Rule{Roles: []access.Role{operator, ministry, establishment}, Scoped: true}, s.mr1},
		{"GET /api/dgos", "/api/dgos", access.Rule{Roles: []access.Role{operator, ministry}}, s.dgos},
		{"GET /api/epidemiology", "/api/epidemiology", access.Rule{Roles: []access.Role{operator, analyst}}, s.epidemiology},
		{"GET /report", "/report", access.Rule{Roles: []access.Role{operator, ministry, establishment}, Scoped: true}, s.report},
		{"POST /api/dpi-updates", "/api/dpi-updates", access.Rule{Roles: []access.Role{operator}}, s.dpiUpdates},
		{"GET /api/documents-per-establishment", "/api/documents-per-establishment",
			access.Rule{Roles: []access.Role{operator, ministry}}, s.documentsPerEstablishment},
	}
}
