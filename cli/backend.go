package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
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
	ReleaseHold(ctx context.Context, id, scope string) (store.Hold, error)
	VoidBatch(ctx context.Context, campaignID string, req store.VoidBatchRequest) (store.VoidBatchResult, error)
	EraseCustomer(ctx context.Context, id string) (store.ErasureResult, error)
	CreateWebhook(ctx context.Context, spec store.WebhookSpec) (store.Webhook, string, error)
	Webhooks() ([]store.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	WebhookDeliveries(id string) ([]store.Delivery, error)
	Close() error
}

var (
	_ Backend = (*store.Store)(nil)
	_ Backend = (*httpapi.Client)(nil)
)

// open returns the backend for the database --db names: the running
// server, through FILE.sock, when one answers; otherwise the file itself.
// A socket of another user than the database's owner (or root) is refused
// with exit 3, never used and never worked around by opening the file (see
// trustSocket). Unless create is set, a database file that does not exist
// is an error rather than a new empty database.
func (e *env) open(c *urfave.Context, create bool) (Backend, error) {
	if onEtcd(c) {
		if !create {
			if err := e.etcdHasStore(c); err != nil {
				return nil, err
			}
		}
		return e.openEtcd(c, store.Options{Logger: e.logger(slog.LevelWarn)})
	}
	path := c.String("db")
	if path == "" {
		return nil, usageErrorf("--db: give the database file, e.g. --db promo.db")
	}
	sock := path + ".sock"
	var dialErr error
	if _, err := os.Lstat(sock); err == nil {
		if err := trustSocket(sock, path); err != nil {
			return nil, err
		}
		client, err := httpapi.DialChecked(sock, checkListener(sock, path))
		if err == nil {
			return client, nil
		}
		if errors.Is(err, httpapi.ErrUntrustedSocket) {
			return nil, err // a listener not to be trusted: never fall back
		}
		dialErr = err
	}
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if dir := filepath.Dir(path); !isDir(dir) {
				return nil, unreachable(fmt.Sprintf("no database at %s, and no directory %s: point --db (or PROMO_DB) at your database, or make the directory (mkdir -p %s) and then start a database with `promo --db %s campaign create`", path, dir, dir, path), err)
			}
			return nil, unreachable(fmt.Sprintf("no database at %s: point --db (or PROMO_DB) at your database, or start one with `promo --db %s campaign create`", path, path), err)
		}
	}
	st, err := store.Open(path, store.Options{Logger: e.logger(slog.LevelWarn)})
	if errors.Is(err, store.ErrLocked) {
		why := "it has no admin socket (" + sock + ")"
		if dialErr != nil {
			why = "its admin socket " + sock + " does not answer"
		}
		return nil, unreachable(fmt.Sprintf("%s is in use by another promo process and %s: wait for that process to finish or stop it, then retry", path, why), err)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// withBackend opens the backend, runs fn with it and closes it. The store
// saves its filter on Close; a failure there is reported when fn succeeded.
func (e *env) withBackend(c *urfave.Context, create bool, fn func(Backend) error) (err error) {
	b, err := e.open(c, create)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return fn(b)
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
