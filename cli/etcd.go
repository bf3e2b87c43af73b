package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi/webhook"
	"promo/store"
)

// etcdFlags are the global flags that put the store in an etcd cluster
// instead of a file (DESIGN.md, "Cluster: etcd").
func etcdFlags() []urfave.Flag {
	return []urfave.Flag{
		&urfave.StringFlag{Name: "etcd", EnvVars: []string{"PROMO_ETCD"},
			Usage: "keep the store in the etcd cluster at `URLS` (comma-separated client URLs, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379) instead of --db; commands talk to the cluster directly"},
		&urfave.StringFlag{Name: "etcd-prefix", Value: "/promo/", EnvVars: []string{"PROMO_ETCD_PREFIX"},
			Usage: "with --etcd: the key `PREFIX` the store lives under (one store per prefix)"},
		&urfave.IntFlag{Name: "etcd-max-txn-ops", Value: 128, EnvVars: []string{"PROMO_ETCD_MAX_TXN_OPS"},
			Usage: "with --etcd: the members' --max-txn-ops `N`; promo keeps each transaction within it"},
		&urfave.StringFlag{Name: "etcd-cacert", EnvVars: []string{"PROMO_ETCD_CACERT"}, Usage: "with --etcd: the PEM `FILE` of the CA that signed the members' certificates (turns TLS on)"},
		&urfave.StringFlag{Name: "etcd-cert", EnvVars: []string{"PROMO_ETCD_CERT"}, Usage: "with --etcd: promo's client certificate, a PEM `FILE`"},
		&urfave.StringFlag{Name: "etcd-key", EnvVars: []string{"PROMO_ETCD_KEY"}, Usage: "with --etcd: the private key of --etcd-cert, a PEM `FILE`"},
	}
}

// onEtcd reports whether the command runs on an etcd cluster.
func onEtcd(c *urfave.Context) bool { return c.String("etcd") != "" }

// etcdOptions reads the --etcd flags; prefixFlag names the flag of the
// prefix (etcd-prefix).
func etcdOptions(c *urfave.Context, urlsFlag, prefixFlag string) (store.EtcdOptions, error) {
	var eo store.EtcdOptions
	for _, u := range strings.Split(c.String(urlsFlag), ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https" && p.Scheme != "unix" && p.Scheme != "unixs") {
			return eo, usageErrorf("--%s: want etcd client URLs such as http://10.0.0.1:2379,http://10.0.0.2:2379; %q is not one", urlsFlag, u)
		}
		eo.Endpoints = append(eo.Endpoints, u)
	}
	if len(eo.Endpoints) == 0 {
		return eo, usageErrorf("--%s: give the etcd cluster's client URLs, e.g. --%s http://127.0.0.1:2379", urlsFlag, urlsFlag)
	}
	eo.Prefix = c.String(prefixFlag)
	if !strings.HasPrefix(eo.Prefix, "/") || strings.ContainsAny(eo.Prefix, " \t\r\n") {
		return eo, usageErrorf("--%s: want a key prefix such as /promo/ (starting with /, no spaces), got %q", prefixFlag, eo.Prefix)
	}
	eo.CAFile, eo.CertFile, eo.KeyFile = c.String("etcd-cacert"), c.String("etcd-cert"), c.String("etcd-key")
	if eo.MaxOps = c.Int("etcd-max-txn-ops"); eo.MaxOps < 16 {
		return eo, usageErrorf("--etcd-max-txn-ops: want the members' --max-txn-ops (etcd's default 128; at least 16), got %d", eo.MaxOps)
	}
	if (eo.CertFile == "") != (eo.KeyFile == "") {
		return eo, usageErrorf("--etcd-cert FILE and --etcd-key FILE go together: promo's client certificate and its private key")
	}
	return eo, nil
}

// etcdHasStore refuses (exit 3) a prefix that holds no promo store, as a
// missing --db file is refused: a mistyped --etcd-prefix must not look
// like an empty store.
func (e *env) etcdHasStore(c *urfave.Context) error {
	eo, err := etcdOptions(c, "etcd", "etcd-prefix")
	if err != nil {
		return err
	}
	has, err := store.EtcdHasStore(context.Background(), eo)
	if err != nil {
		if store.ErrorCode(err) == store.EUnavailable {
			return unreachable("the etcd cluster at "+strings.Join(eo.Endpoints, ",")+" cannot be reached: "+store.ErrorMessage(err)+"; check --etcd (or PROMO_ETCD) and that a quorum of members runs", err)
		}
		return err
	}
	if !has {
		return unreachable(fmt.Sprintf("no promo store under %s in etcd %s: check --etcd-prefix (or PROMO_ETCD_PREFIX); start one with `promo campaign create`, or copy a file in with `promo --db FILE migrate --to-etcd URLS`", eo.Prefix, strings.Join(eo.Endpoints, ",")), nil)
	}
	return nil
}

// openEtcd opens the store kept in the cluster the --etcd flags name.
func (e *env) openEtcd(c *urfave.Context, opts store.Options) (*store.Store, error) {
	eo, err := etcdOptions(c, "etcd", "etcd-prefix")
	if err != nil {
		return nil, err
	}
	st, err := store.OpenEtcd(context.Background(), eo, opts)
	if err != nil {
		if store.ErrorCode(err) == store.EUnavailable {
			return nil, unreachable("the etcd cluster at "+strings.Join(eo.Endpoints, ",")+" cannot be reached: "+store.ErrorMessage(err)+"; check --etcd (or PROMO_ETCD) and that a quorum of members runs", err)
		}
		return nil, err
	}
	return st, nil
}

func (e *env) migrateCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "migrate",
		Usage:     "copy the database file's whole state into an empty etcd prefix",
		UsageText: "promo [--db FILE] migrate --to-etcd URLS [--etcd-prefix P]",
		Description: describe("Copies everything in --db FILE (campaigns, codes, redemptions, counters, events, keys,\n"+
			"webhooks, idempotency records) into the etcd cluster at URLS under --etcd-prefix (default\n"+
			"/promo/), which must be empty. Stop `promo serve` on FILE first: the file must not change\n"+
			"during the copy. The copy is streamed in transactions within etcd's limits and the schema\n"+
			"key goes last: a copy cut short leaves a prefix promo refuses to open; delete it\n"+
			"(etcdctl del --prefix P) and run migrate again. Then run promo with --etcd URLS.\n"+
			"TLS: the global --etcd-cacert, --etcd-cert and --etcd-key.",
			"promo --db promo.db migrate --to-etcd http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "to-etcd", Usage: "the etcd cluster's client `URLS`, comma-separated"},
		},
		Action: e.migrate,
	}
}

func (e *env) migrate(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	if onEtcd(c) {
		return usageErrorf("migrate copies --db FILE into --to-etcd URLS: leave --etcd out (to copy a cluster to a file, use `promo --etcd URLS backup FILE`)")
	}
	if c.String("to-etcd") == "" {
		return usageErrorf("--to-etcd: give the etcd cluster's client URLs, e.g. --to-etcd http://127.0.0.1:2379")
	}
	eo, err := etcdOptions(c, "to-etcd", "etcd-prefix")
	if err != nil {
		return err
	}
	path := c.String("db")
	if _, err := os.Stat(path); err != nil {
		return unreachable(fmt.Sprintf("no database at %s: point --db (or PROMO_DB) at the file to migrate", path), err)
	}
	st, err := store.Open(path, store.Options{Logger: e.logger(slog.LevelWarn)})
	if errors.Is(err, store.ErrLocked) {
		return unreachable(fmt.Sprintf("%s is in use by another promo process: stop `promo serve` on it first (the file must not change during the copy)", path), err)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.MigrateToEtcd(c.Context, eo)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(res)
	}
	fmt.Fprintf(e.stdout, "copied %d keys (%s) from %s into etcd %s in %d transactions\n",
		res.Keys, sizeText(res.Bytes), path, eo.Prefix, res.Transactions)
	return nil
}

// leasedStore hides the webhooks from a node's dispatcher unless the node
// holds the cluster's webhook lease, so that one node of a cluster delivers
// them (another takes over within leaseTTL when it stops).
type leasedStore struct {
	*store.Store
	held atomic.Bool
}

const leaseTTL = 10 * time.Second

func (l *leasedStore) WebhookTargets() ([]store.WebhookTarget, error) {
	if !l.held.Load() {
		return nil, nil
	}
	return l.Store.WebhookTargets()
}

// webhookStore returns what the webhook dispatcher of serve runs on: the
// store itself on a file, and on a cluster the store behind the lease,
// renewed every leaseTTL/4 until ctx ends.
func webhookStore(ctx context.Context, st *store.Store, log *slog.Logger) webhook.Store {
	if !st.Cluster() {
		return st
	}
	host, _ := os.Hostname()
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	holder := fmt.Sprintf("%s:%d:%x", host, os.Getpid(), nonce)
	l := &leasedStore{Store: st}
	renew := func() {
		ok, err := st.TakeLease(ctx, "webhooks", holder, leaseTTL)
		if err != nil && ctx.Err() == nil {
			log.Warn("webhooks: renewing the delivery lease", "err", err)
		}
		if l.held.Swap(ok && err == nil) != (ok && err == nil) {
			log.Info("webhooks: delivery lease", "held", ok && err == nil, "holder", holder)
		}
	}
	renew()
	go func() {
		t := time.NewTicker(leaseTTL / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				renew()
			}
		}
	}()
	return l
}
