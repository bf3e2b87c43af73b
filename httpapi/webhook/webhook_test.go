package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store"
)

var ctx = context.Background()

// receiver is a real HTTP receiver that records what it gets and checks
// every signature, as a shop's endpoint would.
type receiver struct {
	t      *testing.T
	secret atomic.Value // string
	mu     sync.Mutex
	seqs   []uint64
	types  []string
	answer func(n int) int // status for the n-th request (from 1)
	n      atomic.Int32
	srv    *httptest.Server
}

func newReceiver(t *testing.T, answer func(int) int) *receiver {
	r := &receiver{t: t, answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.srv.Close)
	return r
}

// subscribe makes a webhook of events at the receiver's URL, whose
// signatures the receiver then checks.
func (r *receiver) subscribe(s *store.Store, events ...string) store.Webhook {
	w, secret, err := s.CreateWebhook(ctx, store.WebhookSpec{URL: r.srv.URL, Events: events})
	require.NoError(r.t, err)
	require.True(r.t, strings.HasPrefix(secret, "whsec_"))
	r.secret.Store(secret)
	return w
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	n := int(r.n.Add(1))
	// Verify as the README's example does: recompute the HMAC over "t.body".
	sig := req.Header.Get("Promo-Signature")
	parts := strings.SplitN(sig, ",", 2)
	if secret, _ := r.secret.Load().(string); secret != "" {
		require.Len(r.t, parts, 2, sig)
		ts := strings.TrimPrefix(parts[0], "t=")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "." + string(body)))
		require.Equal(r.t, "v1="+hex.EncodeToString(mac.Sum(nil)), parts[1], "signature")
		sec, err := strconv.ParseInt(ts, 10, 64)
		require.NoError(r.t, err)
		require.InDelta(r.t, time.Now().Unix(), sec, 300)
	}
	status := http.StatusOK
	if r.answer != nil {
		status = r.answer(n)
	}
	if status/100 == 2 {
		var e store.Event
		require.NoError(r.t, json.Unmarshal(body, &e))
		require.Equal(r.t, req.Header.Get("Promo-Event-Seq"), strconv.FormatUint(e.Seq, 10))
		r.mu.Lock()
		r.seqs, r.types = append(r.seqs, e.Seq), append(r.types, e.Type)
		r.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (r *receiver) got() ([]uint64, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seqs...), append([]string(nil), r.types...)
}

func openStore(t *testing.T, path string) *store.Store {
	s, err := store.Open(path, store.Options{})
	require.NoError(t, err)
	return s
}

func run(t *testing.T, s Store, opts Options) (stop func()) {
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	c, cancel := context.WithCancel(ctx)
	d := New(s, opts)
	done := make(chan struct{})
	go func() { d.Run(c); close(done) }()
	return func() { cancel(); <-done }
}

// work makes events: a campaign, codes, redemptions.
func work(t *testing.T, s *store.Store, campaign string, redeem int) {
	_, err := s.CreateCampaign(ctx, store.CampaignSpec{ID: campaign, Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}})
	require.NoError(t, err)
	_, err = s.Generate(ctx, campaign, store.GenerateRequest{Count: redeem})
	require.NoError(t, err)
	require.NoError(t, s.EachCode(campaign, "", func(c store.Code) error {
		_, err := s.Redeem(ctx, store.RedeemRequest{Code: c.Code})
		return err
	}))
}

func TestDispatcher_DeliversSignedEventsInOrder(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "promo.db"))
	defer s.Close()
	work(t, s, "before", 2) // a new webhook starts at the log's end
	rcv := newReceiver(t, nil)
	w := rcv.subscribe(s, store.EventCodeRedeemed, store.EventCampaignCreated)
	stop := run(t, s, Options{})
	defer stop()
	work(t, s, "after", 5)
	require.Eventually(t, func() bool { seqs, _ := rcv.got(); return len(seqs) == 6 }, 10*time.Second, 10*time.Millisecond)
	seqs, types := rcv.got()
	require.Equal(t, store.EventCampaignCreated, types[0])
	for i := 1; i < len(seqs); i++ {
		require.Less(t, seqs[i-1], seqs[i], "in seq order")
		require.Equal(t, store.EventCodeRedeemed, types[i])
	}
	require.Eventually(t, func() bool {
		ws, _ := s.Webhooks()
		last, _ := s.LastEventSeq()
		return ws[0].Delivered == last
	}, 5*time.Second, 10*time.Millisecond, "unsubscribed events are passed over too")
	dels, err := s.WebhookDeliveries(w.ID)
	require.NoError(t, err)
	require.Len(t, dels, 6)
	require.True(t, dels[0].OK)
	require.Equal(t, 200, dels[0].Status)
}

func TestDispatcher_RetriesInOrderUntilDelivered(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "promo.db"))
	defer s.Close()
	rcv := newReceiver(t, func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	w := rcv.subscribe(s, "*")
	stop := run(t, s, Options{Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	defer stop()
	work(t, s, "c", 3)
	last, _ := s.LastEventSeq()
	require.Eventually(t, func() bool { seqs, _ := rcv.got(); return len(seqs) == int(last) }, 10*time.Second, 10*time.Millisecond)
	seqs, _ := rcv.got()
	for i, seq := range seqs {
		require.Equal(t, uint64(i+1), seq, "every event once, in order, after the retries")
	}
	dels, err := s.WebhookDeliveries(w.ID)
	require.NoError(t, err)
	failed := 0
	for _, d := range dels {
		if !d.OK {
			failed++
			require.Equal(t, 503, d.Status)
			require.Contains(t, d.Error, "503")
		}
	}
	require.Equal(t, 3, failed)
}

// Deliveries resume after a restart where the durable place says, with
// nothing lost.
func TestDispatcher_ResumesAfterARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promo.db")
	s := openStore(t, path)
	var down atomic.Bool
	down.Store(true)
	rcv := newReceiver(t, func(int) int {
		if down.Load() {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	rcv.subscribe(s, "*")
	stop := run(t, s, Options{Backoff: func(int) time.Duration { return 5 * time.Millisecond }})
	work(t, s, "c", 4)
	require.Eventually(t, func() bool { return rcv.n.Load() > 3 }, 10*time.Second, 5*time.Millisecond)
	stop()
	last, _ := s.LastEventSeq()
	require.NoError(t, s.Close())

	down.Store(false)
	s = openStore(t, path)
	defer s.Close()
	stop = run(t, s, Options{})
	defer stop()
	require.Eventually(t, func() bool { seqs, _ := rcv.got(); return len(seqs) >= int(last) }, 10*time.Second, 10*time.Millisecond)
	seqs, _ := rcv.got()
	for i := uint64(1); i <= last; i++ {
		require.Contains(t, seqs, i, "event %d delivered", i)
	}
}

// A receiver that never answers times out, and does not hold up another
// webhook.
func TestDispatcher_ReceiverThatNeverAnswers(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "promo.db"))
	defer s.Close()
	hang := make(chan struct{})
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer dead.Close()
	defer close(hang) // before Close, which waits for the handler
	live := newReceiver(t, nil)
	wd, _, err := s.CreateWebhook(ctx, store.WebhookSpec{URL: dead.URL, Events: []string{"*"}})
	require.NoError(t, err)
	live.subscribe(s, "*")
	stop := run(t, s, Options{Timeout: 200 * time.Millisecond, Backoff: func(int) time.Duration { return time.Hour }})
	defer stop()
	work(t, s, "c", 3)
	last, _ := s.LastEventSeq()
	require.Eventually(t, func() bool { seqs, _ := live.got(); return len(seqs) == int(last) }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		dels, _ := s.WebhookDeliveries(wd.ID)
		return len(dels) == 1
	}, 10*time.Second, 10*time.Millisecond)
	dels, _ := s.WebhookDeliveries(wd.ID)
	require.False(t, dels[0].OK)
	require.Equal(t, "no answer within the timeout", dels[0].Error)
	require.Equal(t, uint64(1), dels[0].Seq, "the dead receiver still waits on the first event")
}

// An event that keeps failing past MaxAge disables its webhook, which an
// event says.
func TestDispatcher_DisablesAWebhookThatFailsTooLong(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "promo.db"))
	defer s.Close()
	rcv := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	w, _, err := s.CreateWebhook(ctx, store.WebhookSpec{URL: rcv.srv.URL, Events: []string{store.EventCampaignCreated}})
	require.NoError(t, err)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Add(int64(time.Hour))) } // an hour passes per look
	stop := run(t, s, Options{Now: now, MaxAge: 72 * time.Hour, Backoff: func(int) time.Duration { return time.Millisecond }})
	defer stop()
	_, err = s.CreateCampaign(ctx, store.CampaignSpec{ID: "c", Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ws, _ := s.Webhooks()
		return ws[0].Disabled
	}, 20*time.Second, 10*time.Millisecond)
	events, err := s.Events(0, 0)
	require.NoError(t, err)
	require.Equal(t, store.EventWebhookDisabled, events[len(events)-1].Type)
	require.Contains(t, events[len(events)-1].Reason, w.ID)
	targets, err := s.WebhookTargets()
	require.NoError(t, err)
	require.Empty(t, targets, "a disabled webhook gets nothing more")
}

func TestSign(t *testing.T) {
	at := time.Unix(1764000000, 0)
	got := Sign("whsec_test", at, []byte(`{"seq":1}`))
	mac := hmac.New(sha256.New, []byte("whsec_test"))
	mac.Write([]byte(`1764000000.{"seq":1}`))
	require.Equal(t, "t=1764000000,v1="+hex.EncodeToString(mac.Sum(nil)), got)
}

// The receivers README shows, in Go and in Python, run as their own
// processes: each verifies every signature and gets every event.
func TestDispatcher_READMEReceivers(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  func(addr string) *exec.Cmd
	}{
		{"Go", func(addr string) *exec.Cmd {
			bin := filepath.Join(t.TempDir(), "receiver")
			build := exec.Command("go", "build", "-o", bin, ".")
			build.Dir = "testdata/receiver"
			out, err := build.CombinedOutput()
			require.NoError(t, err, "%s", out)
			return exec.Command(bin, addr)
		}},
		{"Python", func(addr string) *exec.Cmd {
			python, err := exec.LookPath("python3")
			if err != nil {
				t.Skip("python3 is not installed")
			}
			_, port, _ := net.SplitHostPort(addr)
			return exec.Command(python, "testdata/receiver.py", port)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "promo.db"))
			defer s.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			addr := ln.Addr().String()
			ln.Close()
			w, secret, err := s.CreateWebhook(ctx, store.WebhookSpec{URL: "http://" + addr + "/promo", Events: []string{"*"}})
			require.NoError(t, err)
			cmd := tc.cmd(addr)
			cmd.Env = append(os.Environ(), "PROMO_WEBHOOK_SECRET="+secret)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			stop := run(t, s, Options{Backoff: func(int) time.Duration { return 50 * time.Millisecond }})
			defer stop()
			work(t, s, "c", 3)
			last, _ := s.LastEventSeq()
			require.Eventually(t, func() bool {
				ws, _ := s.Webhooks()
				return len(ws) == 1 && ws[0].Delivered == last
			}, 20*time.Second, 20*time.Millisecond, "receiver output: %s", out.String())
			for seq := uint64(1); seq <= last; seq++ {
				require.Contains(t, out.String(), fmt.Sprintf("%d ", seq))
			}
			dels, err := s.WebhookDeliveries(w.ID)
			require.NoError(t, err)
			require.Equal(t, 204, dels[0].Status)
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// staleTargets answers the webhook list as it was on the first call, as a
// read taken just before a worker recorded its progress would.
type staleTargets struct {
	*store.Store
	once    sync.Once
	targets []store.WebhookTarget
}

func (s *staleTargets) WebhookTargets() ([]store.WebhookTarget, error) {
	var err error
	s.once.Do(func() { s.targets, err = s.Store.WebhookTargets() })
	return s.targets, err
}

// A list read before a worker moved the webhook's place never sends that
// worker's events again.
func TestDispatcher_StaleListDoesNotDeliverTwice(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "promo.db"))
	defer s.Close()
	rcv := newReceiver(t, nil)
	rcv.subscribe(s, store.EventCodeRedeemed)
	work(t, s, "c", 5)
	stop := run(t, &staleTargets{Store: s}, Options{})
	require.Eventually(t, func() bool { seqs, _ := rcv.got(); return len(seqs) >= 5 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // ten polls on the stale list
	stop()
	seqs, _ := rcv.got()
	require.Len(t, seqs, 5, "each event once: %v", seqs)
}

// countingStore counts how often the dispatcher reads the webhooks.
type countingStore struct {
	*store.Store
	targets atomic.Int64
}

func (c *countingStore) WebhookTargets() ([]store.WebhookTarget, error) {
	c.targets.Add(1)
	return c.Store.WebhookTargets()
}

// Under a burst of commits the dispatcher looks at the webhooks once per
// Gather, not once per commit, and still delivers every event.
func TestDispatcher_GathersEventsBeforeLooking(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "promo.db"))
	defer s.Close()
	rcv := newReceiver(t, nil)
	rcv.subscribe(s, store.EventCodeRedeemed)
	cs := &countingStore{Store: s}
	const gather = 50 * time.Millisecond
	stop := run(t, cs, Options{Poll: time.Hour, Gather: gather})
	defer stop()
	require.Eventually(t, func() bool { return cs.targets.Load() == 1 }, 5*time.Second, time.Millisecond, "the first look, at start")

	start := time.Now()
	work(t, s, "burst", 200) // 202 commits, each with an event
	elapsed := time.Since(start)
	require.Eventually(t, func() bool { seqs, _ := rcv.got(); return len(seqs) == 200 }, 10*time.Second, 10*time.Millisecond)
	looks := cs.targets.Load() - 1
	t.Logf("%d looks at the webhooks for 202 commits in %s", looks, elapsed.Round(time.Millisecond))
	require.LessOrEqual(t, looks, int64(elapsed/gather)+4, "one look per Gather, not one per commit")
}
