//go:build unix

package main

// A linearizability check of redeem, rollback and read over HTTP with a real
// checker (github.com/anishathalye/porcupine, as etcd's robustness tests use
// it). Concurrent clients contend for a few codes with a use limit while the
// server is killed with SIGKILL and restarted on the same file; the history
// they record is checked against a sequential model of a code: the set of
// its live redemptions and the set of its rolled-back ones.

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

// --- the model

// The kinds of operation in a history.
const (
	linRedeem   = "redeem"
	linRollback = "rollback"
	linGet      = "get"
)

// The outcomes of an operation: linOK for a redemption made, a rollback
// done or a read; the error codes the model knows; and linUnknown for an
// operation that never got an answer.
const (
	linOK              = "ok"
	linAlreadyRedeemed = "already_redeemed"
	linConflict        = "conflict"
	linNotFound        = "not_found"
	linUnknown         = "unknown"
)

// linInput is an operation's input. Every operation names its code, the
// model's partition.
type linInput struct {
	Kind  string
	Code  string
	Order string // redeem: the order id, unique per operation
	ID    string // rollback: the redemption id
}

// linOutput is an operation's answer.
type linOutput struct {
	Outcome string
	ID      string // redeem: the redemption made
	Order   string // redeem, rollback: the order id the answer names
	// get: the code's state and redemption_count, and its redemptions,
	// live and rolled back, each as "id@order", sorted.
	State      string
	Count      int
	Live       []string
	RolledBack []string
}

// linState is one code: its live redemptions and its rolled-back ones,
// each as "id@order", sorted. Values are never changed in place.
type linState struct {
	live, rolledBack []string
}

func linEntry(id, order string) string { return id + "@" + order }

func linEntryID(entry string) string {
	id, _, _ := strings.Cut(entry, "@")
	return id
}

// linFind returns the entry of the redemption id in list.
func linFind(list []string, id string) (string, bool) {
	for _, e := range list {
		if linEntryID(e) == id {
			return e, true
		}
	}
	return "", false
}

func (s linState) known(id string) bool {
	_, live := linFind(s.live, id)
	_, gone := linFind(s.rolledBack, id)
	return live || gone
}

func linWith(list []string, entry string) []string {
	out := append(slices.Clone(list), entry)
	slices.Sort(out)
	return out
}

func linWithout(list []string, entry string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(e string) bool { return e == entry })
}

// rolledBackState is s after the live redemption entry is rolled back.
func (s linState) rolledBackState(entry string) linState {
	return linState{live: linWithout(s.live, entry), rolledBack: linWith(s.rolledBack, entry)}
}

// linStep is the sequential specification of one code with the given use
// limit. It returns the states the code can be in after the operation, none
// when the answer is impossible:
//   - redeem answered with a redemption: there was room (fewer live
//     redemptions than the limit), the id is new and the order is the
//     request's; the redemption becomes live.
//   - redeem answered already_redeemed: the code had no room.
//   - redeem without an answer: nothing changed. (A redemption that was made
//     is known from the final reads, which list every redemption with its
//     order, and is recorded as answered; see linResolveUnknownRedeems.)
//   - rollback answered with the redemption: it was live, and it becomes
//     rolled back.
//   - rollback answered conflict: it was already rolled back; not_found: the
//     code never had it.
//   - rollback without an answer: it happened or it did not.
//   - get: state, count and both lists are exactly the model's.
func linStep(limit int) func(state, input, output any) []any {
	return func(state, input, output any) []any {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.Kind {
		case linRedeem:
			switch out.Outcome {
			case linOK:
				if len(s.live) < limit && out.ID != "" && !s.known(out.ID) && out.Order == in.Order {
					return []any{linState{live: linWith(s.live, linEntry(out.ID, in.Order)), rolledBack: s.rolledBack}}
				}
			case linAlreadyRedeemed:
				if len(s.live) == limit {
					return []any{s}
				}
			case linUnknown:
				return []any{s}
			}
		case linRollback:
			live, isLive := linFind(s.live, in.ID)
			switch out.Outcome {
			case linOK:
				if isLive && live == linEntry(in.ID, out.Order) {
					return []any{s.rolledBackState(live)}
				}
			case linConflict:
				if _, gone := linFind(s.rolledBack, in.ID); gone {
					return []any{s}
				}
			case linNotFound:
				if !s.known(in.ID) {
					return []any{s}
				}
			case linUnknown:
				if isLive {
					return []any{s, s.rolledBackState(live)}
				}
				return []any{s}
			}
		case linGet:
			want := "available"
			if len(s.live) == limit {
				want = "redeemed"
			}
			if out.Outcome == linOK && out.State == want && out.Count == len(s.live) &&
				slices.Equal(out.Live, s.live) && slices.Equal(out.RolledBack, s.rolledBack) {
				return []any{s}
			}
		}
		return nil
	}
}

// linModel is the model of codes with the given use limit,
// partitioned by code: codes are independent, so each code's history is
// checked alone.
func linModel(limit int) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			index := map[string]int{}
			var parts [][]porcupine.Operation
			for _, op := range history {
				code := op.Input.(linInput).Code
				i, ok := index[code]
				if !ok {
					i = len(parts)
					index[code] = i
					parts = append(parts, nil)
				}
				parts[i] = append(parts[i], op)
			}
			return parts
		},
		Init: func() []any { return []any{linState{}} },
		Step: linStep(limit),
		Equal: func(a, b any) bool {
			x, y := a.(linState), b.(linState)
			return slices.Equal(x.live, y.live) && slices.Equal(x.rolledBack, y.rolledBack)
		},
		Hash: func(state any) uint64 {
			s := state.(linState)
			h := fnv.New64a()
			for _, e := range s.live {
				io.WriteString(h, e+",")
			}
			io.WriteString(h, "|")
			for _, e := range s.rolledBack {
				io.WriteString(h, e+",")
			}
			return h.Sum64()
		},
		DescribeOperation: linDescribeOperation,
		DescribeState: func(state any) string {
			s := state.(linState)
			return fmt.Sprintf("live %v, rolled back %d", linIDs(s.live), len(s.rolledBack))
		},
		DescribeOperationMetadata: func(info any) string {
			if info == nil {
				return ""
			}
			return fmt.Sprint(info)
		},
	}
	return nm.ToModel()
}

func linDescribeOperation(input, output any) string {
	in, out := input.(linInput), output.(linOutput)
	switch in.Kind {
	case linRedeem:
		if out.Outcome == linOK {
			return fmt.Sprintf("redeem(%s) → %s", in.Order, out.ID)
		}
		return fmt.Sprintf("redeem(%s) → %s", in.Order, out.Outcome)
	case linRollback:
		return fmt.Sprintf("rollback(%s) → %s", in.ID, out.Outcome)
	default:
		return fmt.Sprintf("get → %s %d, live %v, rolled back %d", out.State, out.Count, linIDs(out.Live), len(out.RolledBack))
	}
}

// linIDs returns the redemption ids of entries.
func linIDs(entries []string) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = linEntryID(e)
	}
	return out
}

// TestLinearizableModel_Histories feeds the model hand-made histories, so
// the end-to-end check is known to be able to fail: a code redeemed beyond
// its limit, an answered redemption that disappears, a rolled-back one that
// comes back, a reused id are all illegal.
func TestLinearizableModel_Histories(t *testing.T) {
	t.Parallel()
	const never = 1000 // the return time of an operation without an answer
	const c = "CODE"
	// redeem is answered with the redemption id, or an outcome.
	redeem := func(client int, call, ret int64, order, answer string) porcupine.Operation {
		out := linOutput{Outcome: answer}
		if strings.HasPrefix(answer, "rd_") {
			out = linOutput{Outcome: linOK, ID: answer, Order: order}
		}
		return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: linInput{Kind: linRedeem, Code: c, Order: order}, Output: out}
	}
	rollback := func(client int, call, ret int64, id, outcome, order string) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: linInput{Kind: linRollback, Code: c, ID: id},
			Output: linOutput{Outcome: outcome, Order: order}}
	}
	get := func(client int, call, ret int64, state string, live, rolledBack []string) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: linInput{Kind: linGet, Code: c},
			Output: linOutput{Outcome: linOK, State: state, Count: len(live), Live: live, RolledBack: rolledBack}}
	}
	tests := []struct {
		name    string
		limit   int
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"TwoRedemptionsOfALimitOneCode", 1, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			redeem(1, 20, 30, "o2", "rd_2"),
		}, porcupine.Illegal},
		{"TwoConcurrentRedemptionsOfALimitOneCode", 1, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			redeem(1, 5, 15, "o2", "rd_2"),
		}, porcupine.Illegal},
		{"TwoRedemptionsAroundARollback", 1, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(1, 12, 18, "rd_1", linOK, "o1"),
			redeem(0, 20, 30, "o2", "rd_2"),
			get(1, 40, 50, "redeemed", []string{"rd_2@o2"}, []string{"rd_1@o1"}),
		}, porcupine.Ok},
		{"TwoRedemptionsOverlappingARollback", 1, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(1, 12, 40, "rd_1", linOK, "o1"),
			redeem(0, 20, 30, "o2", "rd_2"),
		}, porcupine.Ok},
		{"AlreadyRedeemedWithRoom", 2, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			redeem(1, 20, 30, "o2", linAlreadyRedeemed),
		}, porcupine.Illegal},
		{"AlreadyRedeemedAtTheLimit", 2, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			redeem(1, 0, 10, "o2", "rd_2"),
			redeem(2, 20, 30, "o3", linAlreadyRedeemed),
			get(0, 40, 50, "redeemed", []string{"rd_1@o1", "rd_2@o2"}, nil),
		}, porcupine.Ok},
		{"AnsweredRedemptionDisappears", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			get(1, 20, 30, "available", nil, nil), // after a restart, say
		}, porcupine.Illegal},
		{"RolledBackRedemptionReappears", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(0, 20, 30, "rd_1", linOK, "o1"),
			get(1, 40, 50, "available", []string{"rd_1@o1"}, nil),
		}, porcupine.Illegal},
		{"IDReused", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(0, 20, 30, "rd_1", linOK, "o1"),
			redeem(0, 40, 50, "o2", "rd_1"),
		}, porcupine.Illegal},
		{"RedemptionUnderAnotherOrder", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			get(1, 20, 30, "available", []string{"rd_1@o9"}, nil),
		}, porcupine.Illegal},
		{"ConflictOnALiveRedemption", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(1, 20, 30, "rd_1", linConflict, ""),
		}, porcupine.Illegal},
		{"TwoRollbacksOneConflict", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(1, 20, 30, "rd_1", linConflict, ""),
			rollback(2, 15, 35, "rd_1", linOK, "o1"),
		}, porcupine.Ok},
		{"NotFoundOfAnAnsweredRedemption", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(1, 20, 30, "rd_1", linNotFound, ""),
		}, porcupine.Illegal},
		{"CountDisagrees", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			{ClientId: 1, Call: 20, Return: 30, Input: linInput{Kind: linGet, Code: c},
				Output: linOutput{Outcome: linOK, State: "available", Count: 2, Live: []string{"rd_1@o1"}}},
		}, porcupine.Illegal},
		{"LostRollbackHappenedLater", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(1, 20, never, "rd_1", linUnknown, ""),
			get(2, 30, 40, "available", []string{"rd_1@o1"}, nil),
			get(2, 50, 60, "available", nil, []string{"rd_1@o1"}),
		}, porcupine.Ok},
		{"LostRollbackUndone", 3, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			rollback(1, 20, never, "rd_1", linUnknown, ""),
			get(2, 30, 40, "available", nil, []string{"rd_1@o1"}),
			get(2, 50, 60, "available", []string{"rd_1@o1"}, nil),
		}, porcupine.Illegal},
		{"LostRedemptionMade", 1, []porcupine.Operation{
			redeem(0, 0, never, "o1", linUnknown),
			get(2, 30, 40, "redeemed", []string{"rd_1@o1"}, nil),
		}, porcupine.Ok},
		{"LostRedemptionNotMade", 1, []porcupine.Operation{
			redeem(0, 0, never, "o1", linUnknown),
			redeem(1, 10, 20, "o2", "rd_1"),
			get(2, 30, 40, "redeemed", []string{"rd_1@o2"}, nil),
		}, porcupine.Ok},
		{"LostRedemptionSeenThenLost", 3, []porcupine.Operation{
			redeem(0, 0, never, "o1", linUnknown),
			get(2, 30, 40, "available", []string{"rd_1@o1"}, nil),
			get(2, 50, 60, "available", nil, nil),
		}, porcupine.Illegal},
		{"LostRedemptionBeyondTheLimit", 1, []porcupine.Operation{
			redeem(0, 0, 10, "o1", "rd_1"),
			redeem(1, 5, never, "o2", linUnknown),
			get(2, 30, 40, "redeemed", []string{"rd_1@o1", "rd_2@o2"}, nil),
		}, porcupine.Illegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the end-to-end test does, resolve the redeems without an
			// answer from the last read.
			history := slices.Clone(tt.history)
			final := map[string]string{}
			linAddOrders(final, history[len(history)-1].Output.(linOutput))
			linResolveUnknownRedeems(history, final)
			res, _ := porcupine.CheckOperationsVerbose(linModel(tt.limit), history, 10*time.Second)
			require.Equal(t, tt.want, res)
		})
	}
}

// --- the history

// linHistory is the operations the clients recorded, safe for concurrent
// use. Times are nanoseconds since start, on the monotonic clock.
type linHistory struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// For the log: operations answered after sends without an answer (of
	// those: the ones that lost only the answer the client dropped, and the
	// ones answered with a change made before the answered send began, a
	// replay), operations answered 503 unavailable at least once (of those:
	// the ones answered at last with a replay, whose change was made though
	// a 503 came back), operations never answered, reads without an answer
	// (left out).
	lost, dropped, replayed, unavailable, unavailableMade, unknown, droppedReads int
}

func (h *linHistory) now() int64 { return int64(time.Since(h.start)) }

func (h *linHistory) add(op porcupine.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// linTarget is the server a client talks to; it changes on every restart.
type linTarget struct {
	mu      sync.Mutex
	url     string
	changed chan struct{} // closed when url changes
}

func newLinTarget(url string) *linTarget {
	return &linTarget{url: url, changed: make(chan struct{})}
}

func (t *linTarget) current() (string, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.url, t.changed
}

func (t *linTarget) set(url string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.url = url
	close(t.changed)
	t.changed = make(chan struct{})
}

// newLinClient returns the clients' HTTP client: kept-alive connections, a
// 10 s bound on each request.
//
// Go's Transport silently re-sends a request whose kept-alive connection
// broke before an answer came when it deems the request replayable: a GET,
// or a POST that carries an Idempotency-Key and whose body it can rewind
// (GetBody). Such a re-send would not break the history: it happens inside
// the operation's call interval, and the server deduplicates a POST by its
// key (a GET changes nothing). But it would hide a lost answer from the
// test, so linSend clears GetBody on POSTs: the Transport then returns the
// error, and linRun.call sends the request again itself, with the same key,
// and counts the operation as one whose answer was lost.
func newLinClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// linSend makes one request to url+path and returns the answer, or the
// transport's error.
func linSend(ctx context.Context, hc *http.Client, method, url, path, key string, body []byte, idem string) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, url+path, rd)
	if err != nil {
		return response{}, err
	}
	req.GetBody = nil // see newLinClient
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	return send(hc, req)
}

// linRun is one run of the workload: the servers, the clients' shared
// knowledge and the history.
type linRun struct {
	t          *testing.T
	ctx        context.Context
	clients    int
	running    sync.WaitGroup // the clients
	hc         *http.Client
	targets    []*linTarget // client i talks to targets[i % len(targets)]
	pos, staff string       // API keys: redeem with a till's, roll back and read with an issuer's
	codes      []string
	hist       *linHistory
	stopping   atomic.Bool  // clients finish the operation at hand and stop
	giveUp     atomic.Int64 // Unix nanoseconds after which call stops sending again; 0 while the run lasts
	mu         sync.Mutex
	made       map[string][]string        // code → redemption ids answered by a redeem
	undone     map[string]map[string]bool // redemption ids answered by a rollback
}

// linCampaign creates the campaign "lin" of nCodes codes with limit uses
// each, through the CLI that mustCLI runs, and returns its codes.
func linCampaign(t *testing.T, mustCLI func(args ...string) string, nCodes, limit int) []string {
	t.Helper()
	mustCLI("campaign", "create", "lin", "--name", "Linearizability", "--kind", "generic", "--percent", "10",
		"--max-redemptions", fmt.Sprint(limit), "--one-per-customer=false", "--bound=false")
	mustCLI("generate", "lin", "--count", fmt.Sprint(nCodes))
	var codes []string
	for _, c := range parseCodeCSV(t, mustCLI("export", "lin")) {
		codes = append(codes, c.Code)
	}
	require.Len(t, codes, nCodes)
	return codes
}

// startLinRun starts clients on codes, each with a random source drawn from
// rng, client i talking to targets[i % len(targets)]: redeeming with the
// API key pos, rolling back and reading with staff. The clients stop at
// finish, or when the test ends (before the servers' cleanup stops them).
func startLinRun(t *testing.T, rng *rand.Rand, clients int, codes []string, pos, staff string, targets ...*linTarget) *linRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &linRun{
		t: t, ctx: ctx, clients: clients, hc: newLinClient(), targets: targets,
		pos: pos, staff: staff, codes: codes,
		hist: &linHistory{start: time.Now()},
		made: map[string][]string{}, undone: map[string]map[string]bool{},
	}
	t.Cleanup(func() { cancel(); r.running.Wait() })
	for id := range clients {
		crng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		r.running.Go(func() { r.client(id, crng) })
	}
	return r
}

// target is the server client talks to.
func (r *linRun) target(client int) *linTarget { return r.targets[client%len(r.targets)] }

// linAnswer is what linRun.call got.
type linAnswer struct {
	resp        response
	answered    bool
	lost        int       // sends without an answer
	unavailable int       // of those, the ones answered 503
	dropped     bool      // the first send gave up early (drop)
	lastSend    time.Time // when the send that was answered began
}

// call sends client's request until it gets an answer: a transport error,
// a timeout or a 503 is no answer, and the same request (the same
// Idempotency-Key) goes again to the client's current server, which is the
// restarted one after a kill. A 503 unavailable does not say that nothing
// happened: a server stopping refuses, but on a cluster it also answers
// that etcd did not confirm a commit in time, which may have taken effect
// or may still. With drop > 0 the first send gives up after drop, as a
// till whose network lost the answer: the server may still make the
// change, and the next send must get it replayed. call stops without an
// answer when the run gives up.
func (r *linRun) call(client int, method, path, key string, body []byte, idem string, drop time.Duration) linAnswer {
	var a linAnswer
	for {
		url, changed := r.target(client).current()
		a.lastSend = time.Now()
		ctx, cancel := r.ctx, context.CancelFunc(func() {})
		if drop > 0 && a.lost == 0 {
			ctx, cancel = context.WithTimeout(r.ctx, drop)
		}
		resp, err := linSend(ctx, r.hc, method, url, path, key, body, idem)
		cancel()
		if err == nil && resp.status != http.StatusServiceUnavailable {
			a.resp, a.answered = resp, true
			return a
		}
		if drop > 0 && a.lost == 0 {
			a.dropped = true
		}
		if err == nil {
			a.unavailable++
		}
		a.lost++
		if g := r.giveUp.Load(); (g != 0 && time.Now().UnixNano() > g) || r.ctx.Err() != nil {
			return a
		}
		select {
		case <-changed:
		case <-time.After(20 * time.Millisecond):
		case <-r.ctx.Done():
		}
	}
}

// record adds an operation called at call; without an answer it gets the
// unknown outcome and is given the largest return time later. done is when
// the change the answer reports was made (redeemed_at, rolled_back_at):
// before the answered send began, the answer was a replay of one that was
// lost.
func (r *linRun) record(client int, call int64, in linInput, out linOutput, a linAnswer, done time.Time) {
	op := porcupine.Operation{ClientId: client, Call: call, Return: r.hist.now(), Input: in, Output: out}
	if a.lost > 0 {
		op.Metadata = fmt.Sprintf("%d sends without an answer, %d of them answered 503", a.lost, a.unavailable)
	}
	r.hist.mu.Lock()
	if a.unavailable > 0 {
		r.hist.unavailable++
	}
	switch {
	case !a.answered:
		r.hist.unknown++
		op.Return = -1 // the largest return time, once the run is over
	case a.lost > 0:
		r.hist.lost++
		if a.dropped && a.lost == 1 {
			r.hist.dropped++
		}
		if !done.IsZero() && done.Before(a.lastSend) {
			r.hist.replayed++
			if a.unavailable > 0 {
				r.hist.unavailableMade++
			}
		}
	}
	r.hist.mu.Unlock()
	r.hist.add(op)
}

// linDrop returns how soon the first send of a POST gives up: for one in 20,
// a moment drawn from 0.2 to 4 ms (about when the server commits), else
// never.
func linDrop(rng *rand.Rand) time.Duration {
	if rng.IntN(20) != 0 {
		return 0
	}
	return time.Duration(200+rng.IntN(3800)) * time.Microsecond
}

func (r *linRun) redeem(client int, rng *rand.Rand, seq int) {
	code := r.codes[rng.IntN(len(r.codes))]
	order := fmt.Sprintf("c%d-%d", client, seq)
	body, _ := json.Marshal(redeemReq{Code: code, OrderID: order, OrderAmount: 1000, Terminal: fmt.Sprintf("till-%d", client)})
	in := linInput{Kind: linRedeem, Code: code, Order: order}
	call := r.hist.now()
	a := r.call(client, "POST", "/v1/redeem", r.pos, body, order, linDrop(rng))
	resp := a.resp
	out := linOutput{Outcome: linUnknown}
	var done time.Time
	if a.answered {
		switch resp.status {
		case http.StatusCreated:
			var red struct {
				redemptionJSON
				RedeemedAt time.Time `json:"redeemed_at"`
			}
			if err := json.Unmarshal(resp.body, &red); err != nil || red.Code != code {
				r.t.Errorf("redeem %s: %s", code, resp)
				return
			}
			out, done = linOutput{Outcome: linOK, ID: red.ID, Order: red.OrderID}, red.RedeemedAt
			r.mu.Lock()
			r.made[code] = append(r.made[code], red.ID)
			r.mu.Unlock()
		case http.StatusConflict:
			out = linOutput{Outcome: r.errorCode(resp)}
		default:
			r.t.Errorf("redeem %s (order %s): unexpected answer %s", code, order, resp)
			return
		}
	}
	r.record(client, call, in, out, a, done)
}

// rollback rolls back a redemption of a random code answered to some
// client: mostly one not yet rolled back, sometimes one that was (conflict),
// rarely an id that never existed (not_found).
func (r *linRun) rollback(client int, rng *rand.Rand, seq int) bool {
	code := r.codes[rng.IntN(len(r.codes))]
	r.mu.Lock()
	var live, gone []string
	for _, id := range r.made[code] {
		if r.undone[code][id] {
			gone = append(gone, id)
		} else {
			live = append(live, id)
		}
	}
	r.mu.Unlock()
	var id string
	switch p := rng.IntN(100); {
	case p < 3:
		id = fmt.Sprintf("rd_%d", 1_000_000_000+rng.IntN(1000))
	case p < 20 && len(gone) > 0:
		id = gone[rng.IntN(len(gone))]
	case len(live) > 0:
		id = live[rng.IntN(len(live))]
	default:
		return false
	}
	idem := fmt.Sprintf("c%d-%d-rb", client, seq)
	in := linInput{Kind: linRollback, Code: code, ID: id}
	call := r.hist.now()
	a := r.call(client, "POST", "/v1/redemptions/"+id+"/rollback", r.staff, []byte(`{"reason":"linearizability"}`), idem, linDrop(rng))
	resp := a.resp
	out := linOutput{Outcome: linUnknown}
	var done time.Time
	if a.answered {
		switch resp.status {
		case http.StatusOK:
			var red redemptionJSON
			if err := json.Unmarshal(resp.body, &red); err != nil || red.ID != id || red.Code != code || red.RolledBackAt == nil {
				r.t.Errorf("rollback %s of %s: %s", id, code, resp)
				return true
			}
			out, done = linOutput{Outcome: linOK, Order: red.OrderID}, *red.RolledBackAt
			r.mu.Lock()
			if r.undone[code] == nil {
				r.undone[code] = map[string]bool{}
			}
			r.undone[code][id] = true
			r.mu.Unlock()
		case http.StatusConflict, http.StatusNotFound:
			out = linOutput{Outcome: r.errorCode(resp)}
		default:
			r.t.Errorf("rollback %s of %s: unexpected answer %s", id, code, resp)
			return true
		}
	}
	r.record(client, call, in, out, a, done)
	return true
}

// get reads a code once. A read without an answer changed nothing and is
// left out of the history.
func (r *linRun) get(client int, code string) bool {
	call := r.hist.now()
	url, _ := r.target(client).current()
	resp, err := linSend(r.ctx, r.hc, "GET", url, "/v1/codes/"+code, r.staff, nil, "")
	if err != nil || resp.status == http.StatusServiceUnavailable {
		r.hist.mu.Lock()
		r.hist.droppedReads++
		r.hist.mu.Unlock()
		return false
	}
	ret := r.hist.now()
	out, ok := linParseGet(resp)
	if !ok {
		r.t.Errorf("get %s: unexpected answer %s", code, resp)
		return false
	}
	r.hist.add(porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: linInput{Kind: linGet, Code: code}, Output: out})
	return true
}

func linParseGet(resp response) (linOutput, bool) {
	var c codeJSON
	if resp.status != http.StatusOK || json.Unmarshal(resp.body, &c) != nil {
		return linOutput{}, false
	}
	out := linOutput{Outcome: linOK, State: c.State, Count: c.RedemptionCount}
	for _, red := range c.Redemptions {
		if red.RolledBackAt == nil {
			out.Live = append(out.Live, linEntry(red.ID, red.OrderID))
		} else {
			out.RolledBack = append(out.RolledBack, linEntry(red.ID, red.OrderID))
		}
	}
	slices.Sort(out.Live)
	slices.Sort(out.RolledBack)
	return out, true
}

// errorCode is the code of an error answer, "" when the body is not one.
func (r *linRun) errorCode(resp response) string {
	var eb errorJSON
	if json.Unmarshal(resp.body, &eb) != nil {
		return ""
	}
	return eb.Error.Code
}

// client runs random operations until the run stops.
func (r *linRun) client(id int, rng *rand.Rand) {
	for seq := 0; !r.stopping.Load() && r.ctx.Err() == nil; seq++ {
		switch p := rng.IntN(100); {
		case p < 45:
			r.redeem(id, rng, seq)
		case p < 70 && r.rollback(id, rng, seq):
		default:
			r.get(id, r.codes[rng.IntN(len(r.codes))])
		}
	}
}

// linResolveUnknownRedeems records as answered each redeem without an answer
// whose order the final reads list: it was made, with that id. The others
// stay unknown, which the model takes as having changed nothing: a
// redemption never leaves a code's list (a rolled-back one stays, marked),
// so one made and missing from the final reads was lost, and a read that
// saw it fails the check.
func linResolveUnknownRedeems(ops []porcupine.Operation, final map[string]string) (resolved int) {
	for i, op := range ops {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		if in.Kind != linRedeem || out.Outcome != linUnknown {
			continue
		}
		if id, ok := final[in.Order]; ok {
			ops[i].Output = linOutput{Outcome: linOK, ID: id, Order: in.Order}
			resolved++
		}
	}
	return resolved
}

// linAddOrders adds the redemptions a read listed to final, order → id.
func linAddOrders(final map[string]string, read linOutput) {
	for _, e := range slices.Concat(read.Live, read.RolledBack) {
		id, order, _ := strings.Cut(e, "@")
		final[order] = id
	}
}

// linArtifactsDir is where a failed check's visualisation goes:
// $PROMO_ARTIFACTS, else test-artifacts/ in the repository.
func linArtifactsDir(t *testing.T) string {
	dir := os.Getenv("PROMO_ARTIFACTS")
	if dir == "" {
		dir = "test-artifacts"
	}
	dir, err := filepath.Abs(dir)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// finish stops the clients (each finishes the operation at hand, sending it
// again for up to 15 s), reads every code once more, and checks the history
// against the model of codes with limit uses, failing the test with
// porcupine's visualisation (annotated with the faults) when it is not
// linearizable. The final reads are part of the history and list every
// redemption made, by order: they resolve the redeems that never got an
// answer, and show any answered redemption that was lost or any code
// redeemed beyond its limit, which the model finds illegal. finish also
// counts those two from the final reads, for the log and as a check of its
// own.
func (r *linRun) finish(limit int, annotations []porcupine.Annotation) {
	t := r.t
	r.stopping.Store(true)
	r.giveUp.Store(time.Now().Add(15 * time.Second).UnixNano())
	r.running.Wait()

	final := map[string]string{} // order → redemption id
	var reads []linOutput
	for _, code := range r.codes {
		require.True(t, r.get(r.clients, code), "the final read of %s", code)
		read := r.hist.ops[len(r.hist.ops)-1].Output.(linOutput)
		linAddOrders(final, read)
		reads = append(reads, read)
	}
	lostAcks, doubles := linLostAndDoubled(r.codes, reads, r.made, limit)
	history := r.hist.ops
	resolved := linResolveUnknownRedeems(history, final)
	var end int64
	for _, op := range history {
		end = max(end, op.Return)
	}
	outcomes := map[string]int{}
	for i, op := range history {
		if op.Return < 0 {
			history[i].Return = end + 1 // the largest return time: concurrent with everything after its call
		}
		outcomes[op.Input.(linInput).Kind+" "+history[i].Output.(linOutput).Outcome]++
	}
	t.Logf("%d operations (%v); %d lost an answer (%d only the one the client dropped) and got one when sent again, "+
		"%d of them a replay of a change made before; %d were answered 503 unavailable at least once (%d of them then with a replay); "+
		"%d never got an answer (%d of them redeems found made); %d reads without an answer left out; "+
		"final reads: %d answered redemptions lost, %d redemptions beyond a code's limit or twice for one order",
		len(history), outcomes, r.hist.lost, r.hist.dropped, r.hist.replayed, r.hist.unavailable, r.hist.unavailableMade,
		r.hist.unknown, resolved, r.hist.droppedReads, lostAcks, doubles)

	model := linModel(limit)
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, history, 30*time.Second)
	t.Logf("porcupine: %s in %s", res, time.Since(began).Round(time.Millisecond))
	if res != porcupine.Ok {
		info.AddAnnotations(annotations)
		path := filepath.Join(linArtifactsDir(t), fmt.Sprintf("linearizability-%s.html", time.Now().Format("20060102-150405")))
		require.NoError(t, porcupine.VisualizePath(model, info, path))
		t.Fatalf("the history is not linearizable (porcupine: %s); its visualisation: %s", res, path)
	}
	require.Zero(t, lostAcks, "answered redemptions missing from the final reads")
	require.Zero(t, doubles, "redemptions beyond a code's limit, or made twice for one order")
}

// linLostAndDoubled counts, from the final reads of codes, the redemptions
// answered to a redeem (made: code → ids) that no read lists, and the
// redemptions too many: live ones beyond limit, and second ones of an
// order.
func linLostAndDoubled(codes []string, reads []linOutput, made map[string][]string, limit int) (lost, doubled int) {
	for i, code := range codes {
		listed := map[string]bool{}
		orders := map[string]bool{}
		for _, e := range slices.Concat(reads[i].Live, reads[i].RolledBack) {
			id, order, _ := strings.Cut(e, "@")
			listed[id] = true
			if orders[order] {
				doubled++
			}
			orders[order] = true
		}
		doubled += max(0, len(reads[i].Live)-limit)
		for _, id := range made[code] {
			if !listed[id] {
				lost++
			}
		}
	}
	return lost, doubled
}

// TestLinearizable_RedeemRollbackGet runs 16 clients redeeming, rolling back
// and reading 4 codes of a campaign with 3 uses per code, over HTTP, for
// about 13 s, while the server is killed with SIGKILL and restarted on the
// same file 3 times (each restart followed by `promo check`). An operation
// whose answer a kill lost is sent again with the same Idempotency-Key until
// it gets one (the server replays its first answer, or answers now if the
// first send never committed), and recorded as one operation from its first
// send to its answer. The history must be linearizable for the model of
// linStep, and `promo check` must pass on the file afterwards.
func TestLinearizable_RedeemRollbackGet(t *testing.T) {
	t.Parallel()
	const clients, nCodes, limit, rounds = 16, 4, 3, 3
	rng := newRand(t)
	e := startEnv(t)
	codes := linCampaign(t, e.mustCLI, nCodes, limit)
	target := newLinTarget(e.srv.url)
	r := startLinRun(t, rng, clients, codes, e.key("tills", "pos"), e.key("office", "issuer"), target)

	var annotations []porcupine.Annotation
	for round := range rounds {
		load := time.Duration(3000+rng.IntN(2000)) * time.Millisecond
		time.Sleep(load) // the moment of the kill, drawn at random: not a wait for readiness
		killed := r.hist.now()
		e.srv.kill()
		r.hc.CloseIdleConnections()
		srv := e.afterCrash(t, round)
		target.set(srv.url)
		annotations = append(annotations, porcupine.Annotation{Tag: "server", Start: killed, End: r.hist.now(),
			Description: fmt.Sprintf("kill -9 #%d, restart", round+1), BackgroundColor: "#f4cccc"})
		t.Logf("round %d: killed after %s of load; restarted in %s", round, load, time.Duration(r.hist.now()-killed).Round(time.Millisecond))
	}
	time.Sleep(time.Duration(2000+rng.IntN(1000)) * time.Millisecond) // load on the last server
	r.finish(limit, annotations)

	e.srv.stop(t)
	checked := e.cli("check")
	require.Equal(t, 0, checked.code, "promo check after the run: %s", checked)
}
