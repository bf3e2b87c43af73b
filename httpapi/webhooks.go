package httpapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"promo/store"
)

// The webhooks' routes (the deliveries are httpapi/webhook's); the
// handlers and the Client's calls side by side.

// WebhookCreated is the answer to creating a webhook: the signing secret
// appears only here.
type WebhookCreated struct {
	Webhook store.Webhook `json:"webhook"`
	Secret  string        `json:"secret"`
}

// WebhookList is the answer of GET /v1/webhooks.
type WebhookList struct {
	Webhooks []store.Webhook `json:"webhooks"`
}

// DeliveryList is the answer of GET /v1/webhooks/{id}/deliveries.
type DeliveryList struct {
	Deliveries []store.Delivery `json:"deliveries"`
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var spec store.WebhookSpec
	if _, err := s.json(r, &spec, false); err != nil {
		return err
	}
	hook, secret, err := s.st.CreateWebhook(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, WebhookCreated{Webhook: hook, Secret: secret})
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := s.st.Webhooks()
	if err != nil {
		return err
	}
	if hooks == nil {
		hooks = []store.Webhook{}
	}
	writeJSON(w, http.StatusOK, WebhookList{Webhooks: hooks})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.st.DeleteWebhook(r.Context(), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	d, err := s.st.WebhookDeliveries(mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, DeliveryList{Deliveries: d})
	return nil
}

// The Client's side of these routes, over the admin socket.

// CreateWebhook calls POST /v1/webhooks.
func (c *Client) CreateWebhook(ctx context.Context, spec store.WebhookSpec) (store.Webhook, string, error) {
	var out WebhookCreated
	err := c.call(ctx, "POST", "/v1/webhooks", spec, &out, nil)
	return out.Webhook, out.Secret, err
}

// Webhooks calls GET /v1/webhooks.
func (c *Client) Webhooks() ([]store.Webhook, error) {
	ctx, cancel := bg()
	defer cancel()
	var out WebhookList
	return out.Webhooks, c.call(ctx, "GET", "/v1/webhooks", nil, &out, nil)
}

// DeleteWebhook calls DELETE /v1/webhooks/{id}.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.call(ctx, "DELETE", "/v1/webhooks/"+esc(id), nil, nil, nil)
}

// WebhookDeliveries calls GET /v1/webhooks/{id}/deliveries.
func (c *Client) WebhookDeliveries(id string) ([]store.Delivery, error) {
	ctx, cancel := bg()
	defer cancel()
	var out DeliveryList
	return out.Deliveries, c.call(ctx, "GET", "/v1/webhooks/"+esc(id)+"/deliveries", nil, &out, nil)
}
