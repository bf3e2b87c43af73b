package httpapi

// The wire types: the JSON bodies of the API that are not the store's own
// types, declared once for the server that writes them and the Client that
// reads them (and the CLI, whose --json prints the API's JSON).

import "promo/store"

// ErrorBody is every error response: {"error": {"code", "message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the error; Field and Details appear when known. For
// an upload refused for its bad lines, Details lists the first 100 and
// DetailsTotal counts them all.
type ErrorDetail struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	Field        string `json:"field,omitempty"`
	Details      any    `json:"details,omitempty"`
	DetailsTotal int    `json:"details_total,omitempty"`
}

// KeyCreated is the answer to creating a key: the secret appears only here.
type KeyCreated struct {
	Key    store.Key `json:"key"`
	Secret string    `json:"secret"`
}

// CheckResult is the answer of GET /v1/check.
type CheckResult struct {
	OK       bool     `json:"ok"`
	Findings []string `json:"findings"`
}

// CampaignList is the answer of GET /v1/campaigns.
type CampaignList struct {
	Campaigns []*store.Campaign `json:"campaigns"`
}

// KeyList is the answer of GET /v1/keys.
type KeyList struct {
	Keys []store.Key `json:"keys"`
}

// keyRequest is the body of POST /v1/keys.
type keyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// voidRequest is the body of POST /v1/codes/{code}/void (it may be empty).
type voidRequest struct {
	Reason string `json:"reason"`
}

// eventsPage is the answer of GET /v1/events: the events asked for and
// the number of the last event of all.
type eventsPage struct {
	Events []store.Event `json:"events"`
	Last   uint64        `json:"last"`
}

// generateProgress is a line of POST /v1/campaigns/{id}/generate with
// Accept: application/x-ndjson while chunks commit; the last line is the
// store.GenerateResult or an ErrorBody.
type generateProgress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// CustomersHeader is the response header of a bulk assignment giving the
// number of customers in the file, sent before the first row.
const CustomersHeader = "Promo-Customers"
