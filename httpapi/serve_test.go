package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store"
)

// served runs Serve on a free port and a socket beside a fresh database,
// and returns the store, the TCP base URL and the socket path.
func served(t *testing.T) (*store.Store, string, string, context.CancelFunc, chan error) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "promo.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	ready := make(chan string, 1)
	srv := New(st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnReady: func(tcp net.Addr, _ string) { ready <- "http://" + tcp.String() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sock := filepath.Join(dir, "promo.db.sock")
	go func() { done <- srv.Serve(ctx, "127.0.0.1:0", sock) }()
	select {
	case url := <-ready:
		t.Cleanup(cancel)
		return st, url, sock, cancel, done
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return nil, "", "", nil, nil
}

func TestServe_SocketIsPrivateAndAdmin(t *testing.T) {
	st, url, sock, cancel, done := served(t)
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	c, err := Dial(sock)
	require.NoError(t, err)
	defer c.Close()
	camp, err := c.CreateCampaign(context.Background(), store.CampaignSpec{ID: "c", Benefit: &store.Benefit{Type: "percent", Value: 5}})
	require.NoError(t, err, "the socket needs no key: it is admin")
	require.Equal(t, "c", camp.ID)
	_, err = st.Campaign("c")
	require.NoError(t, err)

	resp, err := http.Get(url + "/v1/campaigns")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode, "TCP still needs a key")

	cancel()
	require.NoError(t, <-done)
	_, err = os.Stat(sock)
	require.True(t, os.IsNotExist(err), "the socket is removed on shutdown")
	_, err = Dial(sock)
	require.Equal(t, store.EUnavailable, store.ErrorCode(err))
}

func TestServe_RefusesASecondServerOnTheSocket(t *testing.T) {
	st, _, sock, _, _ := served(t)
	err := New(st, Options{}).Serve(context.Background(), "127.0.0.1:0", sock)
	require.ErrorContains(t, err, "another promo serve answers")
}

// Shutdown lets every redemption in flight finish and answer.
func TestServe_GracefulShutdownAnswersInFlight(t *testing.T) {
	st, url, _, cancel, done := served(t)
	ctx := context.Background()
	_, err := st.CreateCampaign(ctx, store.CampaignSpec{ID: "c", Benefit: &store.Benefit{Type: "percent", Value: 5}})
	require.NoError(t, err)
	_, err = st.Generate(ctx, "c", store.GenerateRequest{Count: 200})
	require.NoError(t, err)
	_, secret, err := st.CreateKey(ctx, "till", store.RolePOS)
	require.NoError(t, err)
	var codes []string
	require.NoError(t, st.EachCode("c", "", func(c store.Code) error { codes = append(codes, c.Code); return nil }))

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	firstAnswer := make(chan struct{})
	var once sync.Once
	for _, code := range codes {
		wg.Add(1)
		go func(code string) {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", url+"/v1/redeem", strings.NewReader(`{"code":"`+code+`"}`))
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++ // refused before it was accepted: fine, never answered 201
				return
			}
			resp.Body.Close()
			statuses[resp.StatusCode]++
			once.Do(func() { close(firstAnswer) })
		}(code)
	}
	close(start)
	<-firstAnswer // shut down while the others are in flight
	cancel()
	wg.Wait()
	require.NoError(t, <-done)
	c, err := st.Campaign("c")
	require.NoError(t, err)
	require.Equal(t, int64(statuses[201]), c.Counts.Redeemed, "every 201 is committed, and nothing else was: %v", statuses)
	require.Zero(t, statuses[500]+statuses[503], "no request in flight failed: %v", statuses)
	require.NotZero(t, statuses[201], "some redemptions were in flight: %v", statuses)
}

func TestClient_MatchesTheStore(t *testing.T) {
	st, _, sock, _, _ := served(t)
	c, err := Dial(sock)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.CreateCampaign(ctx, store.CampaignSpec{ID: "c", Kind: "welcome", Benefit: &store.Benefit{Type: "percent", Value: 5}})
	require.NoError(t, err)
	var progress []int
	res, err := c.Generate(ctx, "c", store.GenerateRequest{Count: 250_000, Progress: func(done, _ int) { progress = append(progress, done) }})
	require.NoError(t, err)
	require.Equal(t, 250_000, res.Generated)
	require.GreaterOrEqual(t, len(progress), 3, "progress streams over the socket, chunk by chunk")
	require.Equal(t, 250_000, progress[len(progress)-1])
	_, err = c.Generate(ctx, "nope", store.GenerateRequest{Count: 1})
	require.Equal(t, store.ENotFound, store.ErrorCode(err))

	n := 0
	require.NoError(t, c.EachCode("c", "available", func(store.Code) error { n++; return nil }))
	require.Equal(t, 250_000, n)
	err = c.EachCode("c", "lost", func(store.Code) error { return nil })
	require.Equal(t, store.EInvalid, store.ErrorCode(err))

	code, err := c.Assign(ctx, "c", store.AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)
	direct, err := st.GetCode(code.Code)
	require.NoError(t, err)
	remote, err := c.GetCode(code.Code)
	require.NoError(t, err)
	require.Equal(t, direct, remote)
	_, err = c.Redeem(ctx, store.RedeemRequest{Code: code.Code})
	require.Equal(t, store.EWrongCustomer, store.ErrorCode(err))
	red, err := c.Redeem(ctx, store.RedeemRequest{Code: code.Code, CustomerID: "ann", OrderAmount: 1000})
	require.NoError(t, err)
	_, err = c.Rollback(ctx, red.ID, store.RollbackRequest{Reason: "test"})
	require.NoError(t, err)

	_, err = c.Import(ctx, "c", strings.NewReader("code\nOK-1\nBAD_1\n"), store.ImportOptions{})
	var e *store.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, store.EInvalid, e.Code)
	require.Equal(t, []store.ImportProblem{{Line: 3, Code: "BAD_1", Reason: `'_' is not a letter, digit, space or dash`}}, e.Details)

	var got []store.AssignRow
	customers := 0
	require.NoError(t, c.AssignFile(ctx, "c", strings.NewReader("customer_id,email\nx,x@example.com\ny,\n"), "mail",
		func(n int) error { customers = n; return nil },
		func(r store.AssignRow) error { got = append(got, r); return nil }))
	require.Equal(t, 2, customers)
	require.Len(t, got, 2)
	require.NotEmpty(t, got[0].Code)
	require.Equal(t, "x@example.com", got[0].Email)
	require.Equal(t, "mail", got[0].Channel, "the rows come back whole, not as the mail-merge's four columns")
	err = c.AssignFile(ctx, "c", strings.NewReader("ok\nbad\x1b\n"), "", nil, func(store.AssignRow) error { return nil })
	total, ok := store.UploadProblems(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, 1, total)

	after, err := st.LastEventSeq()
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() { waited <- c.WaitEvents(ctx, after) }()
	time.Sleep(20 * time.Millisecond)
	_, err = st.Void(ctx, code.Code, "x")
	require.NoError(t, err)
	require.NoError(t, <-waited)
	evs, err := c.Events(after, 10)
	require.NoError(t, err)
	require.Equal(t, store.EventCodeVoided, evs[0].Type)

	_, secret, err := c.CreateKey(ctx, "k", "pos")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, "pk_"))
	keys, err := c.Keys()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.NoError(t, c.RevokeKey(ctx, "k"))

	var buf bytes.Buffer
	size, err := c.Backup(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), size)
	findings, err := c.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
	ov, err := c.Stats()
	require.NoError(t, err)
	require.Equal(t, int64(250_000), ov.Totals.Generated)
}
