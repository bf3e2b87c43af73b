//go:build unix

package main

// promo on an etcd cluster, end to end: the built binary's CLI and two
// `promo serve` nodes on one 3-member cluster that this test process hosts
// (etcdtest, the in-process cluster of the etcd engine's tests; the binary
// links only the etcd client).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv/etcdkv/etcdtest"
)

// etcdEnv runs the CLI against a cluster and prefix.
type etcdEnv struct {
	*env
	cluster *etcdtest.Cluster
	flags   []string // --etcd URLS --etcd-prefix P
}

func newEtcdEnv(t *testing.T) *etcdEnv {
	t.Helper()
	c := etcdtest.Start(t, etcdtest.Options{}) // etcd's default limits: 128 operations per Txn
	e := &etcdEnv{env: newEnv(t), cluster: c,
		flags: []string{"--etcd", strings.Join(c.Endpoints(), ","), "--etcd-prefix", "/e2e/"}}
	t.Cleanup(func() {
		if res := e.cli("check"); res.code != 0 {
			t.Errorf("promo --etcd check after the test: %s", res)
		}
	})
	return e
}

func (e *etcdEnv) cli(args ...string) result {
	e.t.Helper()
	return runPromo(e.t, "", append(append([]string{}, e.flags...), args...)...)
}

func (e *etcdEnv) mustCLI(args ...string) string {
	e.t.Helper()
	res := e.cli(args...)
	require.Equal(e.t, 0, res.code, "promo %s\n%s", strings.Join(args, " "), res)
	return res.stdout
}

func (e *etcdEnv) cliJSON(v any, args ...string) {
	e.t.Helper()
	out := e.mustCLI(append([]string{"--json"}, args...)...)
	require.NoError(e.t, json.Unmarshal([]byte(out), v), "promo --json %s printed %s", strings.Join(args, " "), out)
}

func (e *etcdEnv) key(name, role string) string {
	e.t.Helper()
	var k struct {
		Secret string `json:"secret"`
	}
	e.cliJSON(&k, "keys", "create", name, "--role", role)
	require.True(e.t, strings.HasPrefix(k.Secret, "pk_"))
	return k.Secret
}

// node starts one `promo serve` on the cluster.
func (e *etcdEnv) node(n int) *server {
	e.t.Helper()
	s := launchServer(e.t, e.db, filepath.Join(e.dir, fmt.Sprintf("node-%d.log", n)), e.flags...)
	if !s.awaitReady(e.t) {
		e.t.Fatalf("promo serve on etcd exited %d before serving:\n%s", s.state.ExitCode(), s.logText())
	}
	e.t.Cleanup(func() {
		if s.running() {
			s.stop(e.t)
		}
		if e.t.Failed() {
			e.t.Logf("node %d's log:\n%s", n, tail(s.logText(), 30))
		}
	})
	return s
}

func TestE2E_Etcd_CLIAndTwoNodes(t *testing.T) {
	e := newEtcdEnv(t)
	// A prefix without a store is refused as a missing file is, not
	// taken for an empty store.
	res := e.cli("stats")
	require.Equal(t, 3, res.code, "%s", res)
	require.Contains(t, res.stderr, "no promo store under /e2e/")
	e.mustCLI("campaign", "create", "spring", "--name", "Spring", "--kind", "generic", "--percent", "10")
	// More codes than one Txn of a default etcd takes: Generate splits.
	e.mustCLI("generate", "spring", "--count", "300")
	admin, till := e.key("admin", "admin"), e.key("till", "pos")

	a, b := e.node(1), e.node(2)

	// A code generated through node A is never not_found on node B, right
	// after: B's filter believes its "no" only once its watch has passed
	// the newest generation.
	for round := 0; round < 5; round++ {
		r := a.do(t, "POST", "/v1/campaigns/spring/generate", admin, map[string]any{"count": 1})
		require.Equal(t, http.StatusCreated, r.status, "generate on A: %s", r)
		ex := e.mustCLI("export", "spring")
		rows := parseCodeCSV(t, ex)
		code := rows[len(rows)-1].Code
		v := b.validate(t, till, redeemReq{Code: code})
		require.True(t, v.Valid, "round %d: %s generated on A, validated on B: %+v", round, code, v)
	}

	// Exactly once across nodes: the same code redeemed through A and B at
	// once, many times over.
	rows := parseCodeCSV(t, e.mustCLI("export", "spring"))
	const races = 20
	wins := 0
	for i := 0; i < races; i++ {
		code := rows[i].Code
		var wg sync.WaitGroup
		var statuses [2]int
		for j, s := range []*server{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.send(t.Context(), "POST", "/v1/redeem", till, redeemReq{Code: code, OrderAmount: 1000, Currency: "EUR"})
				if err == nil {
					statuses[j] = r.status
				}
			}()
		}
		wg.Wait()
		won := 0
		for _, st := range statuses {
			if st == http.StatusCreated {
				won++
			} else {
				require.Equal(t, http.StatusConflict, st, "the loser is told already_redeemed")
			}
		}
		require.Equal(t, 1, won, "code %s redeemed through both nodes at once: statuses %v", code, statuses)
		wins += won
	}

	// The CLI sees the cluster: counts equal what the nodes did, the event
	// log holds each redemption once, in order.
	var st statsJSON
	e.cliJSON(&st, "stats", "spring")
	require.EqualValues(t, 305, st.Counts.Codes)
	require.EqualValues(t, wins, st.Counts.Redeemed)
	require.EqualValues(t, wins*100, st.Counts.DiscountTotal)
	var events []struct {
		Seq  uint64 `json:"seq"`
		Type string `json:"type"`
	}
	for _, l := range lines(e.mustCLI("--json", "events")) { // JSON lines
		var ev struct {
			Seq  uint64 `json:"seq"`
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &ev), l)
		events = append(events, ev)
	}
	redeemed := 0
	for i, ev := range events {
		require.EqualValues(t, i+1, ev.Seq, "events are numbered without gaps across nodes")
		if ev.Type == "code.redeemed" {
			redeemed++
		}
	}
	require.Equal(t, wins, redeemed)

	// A backup of the cluster is a standalone bbolt file.
	bk := filepath.Join(e.dir, "cluster-backup.db")
	e.mustCLI("backup", bk)
	res = runPromo(t, "", "--db", bk, "--json", "stats", "spring")
	require.Equal(t, 0, res.code, "%s", res)
	var fromFile statsJSON
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &fromFile))
	require.Equal(t, st.Counts, fromFile.Counts)
	require.Equal(t, 0, runPromo(t, "", "--db", bk, "check").code)
	_ = os.Remove(bk)
}

func TestE2E_Etcd_MigrateAFileIntoTheCluster(t *testing.T) {
	e := newEtcdEnv(t)
	file := func(args ...string) string {
		t.Helper()
		res := runPromo(t, "", append([]string{"--db", e.db}, args...)...)
		require.Equal(t, 0, res.code, "promo --db %s %s\n%s", e.db, strings.Join(args, " "), res)
		return res.stdout
	}
	file("campaign", "create", "summer", "--name", "Summer", "--kind", "generic", "--amount", "500", "--currency", "EUR")
	file("generate", "summer", "--count", "250")
	code := parseCodeCSV(t, file("export", "summer"))[7].Code
	file("redeem", code, "--customer", "ann", "--amount", "2000")
	var want statsJSON
	require.NoError(t, json.Unmarshal([]byte(file("--json", "stats", "summer")), &want))

	urls := strings.Join(e.cluster.Endpoints(), ",")
	out := file("migrate", "--to-etcd", urls, "--etcd-prefix", "/e2e/")
	require.Contains(t, out, "into etcd /e2e/")
	res := runPromo(t, "", "--db", e.db, "migrate", "--to-etcd", urls, "--etcd-prefix", "/e2e/")
	require.Equal(t, 1, res.code, "a second migration into the same prefix: %s", res)
	require.Contains(t, res.stderr, "already holds data")

	var got statsJSON
	e.cliJSON(&got, "stats", "summer")
	require.Equal(t, want.Counts, got.Counts)
	res = e.cli("redeem", code, "--customer", "bob")
	require.Equal(t, 1, res.code, "the code was redeemed in the file: %s", res)
	require.Contains(t, res.stderr, "already")

	res = runPromo(t, "", "--etcd", urls, "--db", e.db, "migrate", "--to-etcd", urls)
	require.Equal(t, 2, res.code, "%s", res)
}

func TestE2E_Etcd_WebhooksDeliveredByOneNode(t *testing.T) {
	e := newEtcdEnv(t)
	var mu sync.Mutex
	got := map[uint64]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Seq uint64 `json:"seq"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &ev) == nil {
			mu.Lock()
			got[ev.Seq]++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	e.mustCLI("campaign", "create", "w", "--name", "W", "--kind", "generic", "--percent", "5")
	e.mustCLI("generate", "w", "--count", "6")
	require.Contains(t, e.mustCLI("webhooks", "add", rcv.URL, "--events", "code.redeemed"), "added webhook")
	till := e.key("till", "pos")
	a, b := e.node(1), e.node(2)
	rows := parseCodeCSV(t, e.mustCLI("export", "w"))
	for i, r := range rows {
		[]*server{a, b}[i%2].mustRedeem(t, till, redeemReq{Code: r.Code})
	}
	var last uint64
	for _, l := range lines(e.mustCLI("--json", "events")) {
		var ev struct {
			Seq uint64 `json:"seq"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &ev))
		last = ev.Seq
	}
	eventually(t, 30*time.Second, "the webhook's place reaches the log's end", func() bool {
		var hooks struct {
			Webhooks []struct {
				Delivered uint64 `json:"delivered_seq"`
			} `json:"webhooks"`
		}
		e.cliJSON(&hooks, "webhooks", "list")
		return len(hooks.Webhooks) == 1 && hooks.Webhooks[0].Delivered == last
	})
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, len(rows), "every redemption delivered: %v", got)
	for seq, n := range got {
		require.Equal(t, 1, n, "event %d delivered %d times: one node of the cluster delivers", seq, n)
	}
}

func TestE2E_Etcd_TLS(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 1, TLS: true})
	files := c.TLS()
	url := c.Endpoint(0)
	require.True(t, strings.HasPrefix(url, "https://"), url)
	res := runPromo(t, "", "--etcd", url, "--etcd-cacert", files.CAFile, "--etcd-cert", files.CertFile, "--etcd-key", files.KeyFile,
		"campaign", "create", "t", "--name", "T", "--kind", "generic", "--percent", "5")
	require.Equal(t, 0, res.code, "%s", res)
	res = runPromo(t, "", "--etcd", url, "--etcd-cacert", files.CAFile, "--etcd-cert", files.CertFile, "--etcd-key", files.KeyFile, "campaign", "list")
	require.Equal(t, 0, res.code, "%s", res)
	require.Contains(t, res.stdout, "t ")

	// Without the client certificate the cluster refuses: exit 3, saying so.
	res = runPromo(t, "", "--etcd", url, "--etcd-cacert", files.CAFile, "campaign", "list")
	require.Equal(t, 3, res.code, "%s", res)
	require.Contains(t, res.stderr, "cannot be reached")
	res = runPromo(t, "", "--etcd", url, "--etcd-cert", files.CertFile, "campaign", "list")
	require.Equal(t, 2, res.code, "%s", res)
	require.Contains(t, res.stderr, "--etcd-key")
}
