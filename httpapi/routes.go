package httpapi

import (
	"net/http"

	"promo/store"
)

// The route table, and nothing else: every route of the server, API and
// web pages, in the order gorilla/mux tries them. The handlers live in one
// file per resource (campaigns.go, codes.go, redeem.go, controls.go,
// stats.go, admin.go, webhooks.go, upload.go, web.go, websheet.go,
// metrics.go), each beside the
// Client's calls of the same routes.

// route is one entry of the table: every route declares the role it needs
// ("" for none).
type route struct {
	method, path string
	role         string
	handle       func(w http.ResponseWriter, r *http.Request) error
}

// routeTable is the whole server. Each route names the least role that may
// call it (admin ⊃ issuer ⊃ pos; "" for none).
func (s *Server) routeTable() []route {
	A, I, P := store.RoleAdmin, store.RoleIssuer, store.RolePOS
	// gorilla/mux tries routes in order: the tills' two routes come first.
	return []route{
		{"POST", "/v1/validate", P, s.validate},
		{"POST", "/v1/redeem", P, s.redeem},
		{"POST", "/v1/campaigns", A, s.createCampaign},
		{"GET", "/v1/campaigns", I, s.listCampaigns},
		{"GET", "/v1/campaigns/{id}", I, s.getCampaign},
		{"PATCH", "/v1/campaigns/{id}", A, s.updateCampaign},
		{"POST", "/v1/campaigns/{id}/generate", A, s.generate},
		{"POST", "/v1/campaigns/{id}/import", A, s.importCodes},
		{"GET", "/v1/campaigns/{id}/codes", I, s.listCodes},
		{"GET", "/v1/campaigns/{id}/redemptions", I, s.listRedemptions},
		{"POST", "/v1/campaigns/{id}/assign", I, s.assign},
		{"GET", "/v1/campaigns/{id}/stats", I, s.campaignStats},
		{"GET", "/v1/codes/{code}", I, s.getCode},
		{"POST", "/v1/codes/{code}/void", A, s.void},
		{"POST", "/v1/redemptions/{id}/rollback", I, s.rollback},
		{"POST", "/v1/holds/{id}/release", P, s.releaseHold},
		{"POST", "/v1/campaigns/{id}/void", A, s.voidBatch},
		{"GET", "/v1/stats", I, s.stats},
		{"GET", "/v1/customers/{id}", I, s.customer},
		{"DELETE", "/v1/customers/{id}", A, s.eraseCustomer},
		{"GET", "/v1/events", A, s.events},
		{"POST", "/v1/keys", A, s.createKey},
		{"GET", "/v1/keys", A, s.listKeys},
		{"DELETE", "/v1/keys/{name}", A, s.revokeKey},
		{"POST", "/v1/webhooks", A, s.createWebhook},
		{"GET", "/v1/webhooks", A, s.listWebhooks},
		{"DELETE", "/v1/webhooks/{id}", A, s.deleteWebhook},
		{"GET", "/v1/webhooks/{id}/deliveries", A, s.webhookDeliveries},
		{"GET", "/v1/backup", A, s.backup},
		{"GET", "/v1/check", A, s.check},
		{"GET", "/debug/pprof/{profile}", A, s.pprof},
		{"GET", "/healthz", "", s.healthz},
		{"HEAD", "/healthz", "", s.healthz},
		{"GET", "/metrics", "", s.serveMetrics},
		{"GET", "/openapi.json", "", s.serveOpenAPI},

		// The web pages (web.go, websheet.go): the till page, the
		// dashboard, their assets, the printable code sheet and QR images.
		{"GET", "/", "", s.servePage("index.html")},
		{"GET", "/pos", "", s.servePage("pos.html")},
		{"GET", "/admin", "", s.servePage("admin.html")},
		{"GET", "/assets/{file}", "", s.serveAsset},
		{"GET", "/admin/campaigns/{id}/sheet", I, s.codeSheet},
		{"GET", "/v1/codes/{code}/qr.png", I, s.codeQR},
	}
}
