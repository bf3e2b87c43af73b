package cli

import (
	"context"
	"io"

	"promo/store"
)

// Backend is what every command needs: the store's operations. *store.Store
// implements it when promo opens the database itself (direct mode), and
// *httpapi.Client when a running `promo serve` holds the file and the CLI
// talks to it over its unix socket (socket mode). Both return *store.Error
// for refusals, so output and exit codes are the same in both modes.
type Backend interface {
	CreateCampaign(ctx context.Context, spec store.CampaignSpec) (*store.Campaign, error)
	Campaign(id string) (*store.Campaign, error)
	Campaigns() ([]*store.Campaign, error)
	UpdateCampaign(ctx context.Context, id string, patch store.CampaignPatch) (*store.Campaign, error)
	Generate(ctx context.Context, campaignID string, req store.GenerateRequest) (store.GenerateResult, error)
	Import(ctx context.Context, campaignID string, r io.Reader, opts store.ImportOptions) (store.ImportResult, error)
	EachCode(campaignID, state string, fn func(store.Code) error) error
	EachRedemption(campaignID string, fn func(store.Redemption) error) error
	Assign(ctx context.Context, campaignID string, req store.AssignRequest) (store.Code, error)
	AssignFile(ctx context.Context, campaignID string, f io.ReadSeeker, channel string, ready func(rows int) error, emit func(store.AssignRow) error) error
	GetCode(code string) (store.Code, error)
	Void(ctx context.Context, code, reason string) (store.Code, error)
	Validate(req store.RedeemRequest) (store.Validation, error)
	Redeem(ctx context.Context, req store.RedeemRequest) (store.Redemption, error)
	Rollback(ctx context.Context, redemptionID string, req store.RollbackRequest) (store.Redemption, error)
	CampaignStats(id string) (store.CampaignStats, error)
	Stats() (store.Overview, error)
	Customer(id string) (store.CustomerView, error)
	Events(after uint64, limit int) ([]store.Event, error)
	WaitEvents(ctx context.Context, after uint64) error
	CreateKey(ctx context.Context, name, role string) (store.Key, string, error)
	Keys() ([]store.Key, error)
	RevokeKey(ctx context.Context, name string) error
	Backup(w io.Writer) (int64, error)
	Check(ctx context.Context) ([]string, error)
	Close() error
}

var _ Backend = (*store.Store)(nil)
