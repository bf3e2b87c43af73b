//go:build unix

package main

// Hardening: the server killed with SIGKILL at random moments while it
// generates codes and while tills redeem, then restarted on the same file;
// and hot backups taken under load.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// crashRounds is how many kills each crash test makes.
func crashRounds() int {
	if testing.Short() {
		return 3
	}
	return 10
}

// redemptionCrashRounds is how many kills TestCrash_KillDuringRedemptions
// makes: its rounds are cheap.
func redemptionCrashRounds() int {
	if testing.Short() {
		return 3
	}
	return 20
}

// afterCrash restarts the server on the file a killed server held and
// requires it to open and `promo check` (bbolt consistency, every code in
// the filter, counters equal to a recount, an event log without gaps) to
// pass through the socket.
func (e *env) afterCrash(t *testing.T, round int) *server {
	t.Helper()
	srv := e.start()
	res := e.cli("check")
	require.Equal(t, 0, res.code, "round %d: promo check after the kill: %s", round, res)
	return srv
}

// countCodes counts a campaign's codes as the API streams them (CSV).
func countCodes(t *testing.T, srv *server, key, campaign string) int {
	t.Helper()
	r := srv.do(t, "GET", "/v1/campaigns/"+campaign+"/codes", key, nil, "Accept", "text/csv")
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	n := bytes.Count(r.body, []byte("\n"))
	require.Positive(t, n, "the CSV has its header")
	return n - 1
}

// TestCrash_KillDuringGeneration kills the server (SIGKILL) at a random
// moment of a 300,000-code generation, over HTTP or through the socket
// with `promo generate`, round after round on one file. After each kill
// the file opens, `promo check` passes, the codes kept are whole chunks
// (each chunk's event counts it), and the campaign's generated count
// equals the codes it exports.
func TestCrash_KillDuringGeneration(t *testing.T) {
	t.Parallel()
	const count, chunk = 300_000, 100_000
	rng := newRand(t)
	e := startEnv(t)
	admin := e.key("admin", "admin")
	create := func(id string) {
		t.Helper()
		r := e.srv.do(t, "POST", "/v1/campaigns", admin, map[string]any{"id": id, "kind": "generic",
			"benefit": map[string]any{"type": "percent", "value": 5}})
		require.Equal(t, http.StatusCreated, r.status, "%s", r)
	}

	// How long a generation takes here, to aim the kills inside it.
	create("calibration")
	began := time.Now()
	r := e.srv.do(t, "POST", "/v1/campaigns/calibration/generate", admin, map[string]int{"count": count})
	took := time.Since(began)
	require.Equal(t, http.StatusCreated, r.status, "%s", r)
	t.Logf("generating %d codes takes %s here", count, took)
	kills, completed := 0, 0

	for round := range crashRounds() {
		id := fmt.Sprintf("gen-%d", round)
		create(id)
		viaCLI := round%2 == 1
		srv := e.srv
		finished := make(chan struct{})
		var answer response
		var answerErr error
		var cliGen *exec.Cmd
		var cliOut syncBuffer
		if viaCLI {
			cliGen = promoCmd(context.Background(), "--db", e.db, "generate", id, "--count", fmt.Sprint(count))
			cliGen.Stdout, cliGen.Stderr = &cliOut, &cliOut
			require.NoError(t, cliGen.Start())
			go func() {
				answerErr = cliGen.Wait()
				close(finished)
			}()
		} else {
			go func() {
				answer, answerErr = srv.send(context.Background(), "POST", "/v1/campaigns/"+id+"/generate", admin, map[string]int{"count": count})
				close(finished)
			}()
		}
		delay := time.Duration(rng.Int64N(int64(took + took/5)))
		time.Sleep(delay) // the moment of the kill, drawn at random: not a wait for readiness
		srv.kill()
		<-finished

		done := false // the generation answered success before the kill
		if viaCLI {
			code := cliGen.ProcessState.ExitCode()
			require.Contains(t, []int{0, 3}, code, "promo generate through the socket of a killed server: %s", cliOut.String())
			done = code == 0
		} else if answerErr == nil {
			require.Equal(t, http.StatusCreated, answer.status, "%s", answer)
			done = true
		}

		srv = e.afterCrash(t, round)
		var s statsJSON
		e.cliJSON(&s, "stats", id)
		generated := s.Counts.Generated
		// Each chunk (up to 100,000 codes, whole cells of the key space) is
		// one transaction with its event: the codes kept are whole chunks.
		var chunks, inChunks int64
		for _, ev := range readEvents(t, e.mustCLI("--json", "events")) {
			if ev.Campaign == id && ev.Type == "codes.generated" {
				require.LessOrEqual(t, ev.Count, int64(chunk), "round %d: a chunk is at most %d codes", round, chunk)
				chunks++
				inChunks += ev.Count
			}
		}
		require.Equal(t, inChunks, generated, "round %d: the codes kept are the chunks committed", round)
		if done {
			require.Equal(t, int64(count), generated, "round %d: a generation answered as done is all there", round)
			completed++
		} else {
			kills++
		}
		require.Equal(t, generated, s.Counts.ByState.Available)
		require.Equal(t, int(generated), countCodes(t, srv, admin, id), "round %d: generated count = codes exported", round)
		t.Logf("round %d (%s): killed after %s, %d codes kept in %d chunks", round, map[bool]string{true: "promo generate", false: "HTTP"}[viaCLI],
			delay.Round(time.Millisecond), generated, chunks)
	}
	t.Logf("%d generations killed part-way, %d finished before the kill", kills, completed)
	if !testing.Short() {
		require.Positive(t, kills, "at least one kill landed inside a generation")
	}
}

// TestCrash_KillDuringRedemptions kills the server (SIGKILL) at a random
// moment while 16 tills redeem distinct codes (each code up to its limit
// of 2, and once more), round after round on one file. Each till sends an
// Idempotency-Key and, after the restart, retries the request the kill left
// unanswered. After each round: `promo check` passes, every redemption
// answered 201 is on disk with its id, a retry never redeems twice, no code
// has more than 2 redemptions, and the campaign's generated count equals
// its exported codes.
func TestCrash_KillDuringRedemptions(t *testing.T) {
	t.Parallel()
	const tills, perRound, limit = 16, 40, 2
	rounds := redemptionCrashRounds()
	rng := newRand(t)
	e := startEnv(t)
	e.mustCLI("campaign", "create", "till", "--kind", "generic", "--percent", "10", "--max-redemptions", fmt.Sprint(limit))
	e.mustCLI("generate", "till", "--count", fmt.Sprint(rounds*tills*perRound))
	codes := e.codes("till")
	key := e.key("tills", "pos")

	answered := map[string]string{} // redemption id → code, every 201 of every round
	type attempt struct {
		req  redeemReq
		idem string
	}
	for round := range rounds {
		srv := e.srv
		var mu sync.Mutex
		var created atomic.Int64
		var unanswered []attempt
		var wg sync.WaitGroup
		for g := range tills {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := codes[(round*tills+g)*perRound : (round*tills+g+1)*perRound]
				for _, c := range mine {
					for try := range limit + 1 {
						a := attempt{
							req:  redeemReq{Code: c.Code, OrderID: fmt.Sprintf("o-%s-%d", c.Code, try), OrderAmount: 1000, Terminal: fmt.Sprintf("till-%d", g)},
							idem: fmt.Sprintf("r%d-%s-%d", round, c.Code, try),
						}
						r, err := srv.send(context.Background(), "POST", "/v1/redeem", key, a.req, "Idempotency-Key", a.idem)
						mu.Lock()
						switch {
						case err != nil:
							unanswered = append(unanswered, a)
						case r.status == http.StatusCreated:
							var red redemptionJSON
							if json.Unmarshal(r.body, &red) == nil {
								answered[red.ID] = c.Code
								created.Add(1)
							}
						}
						mu.Unlock()
						if err != nil {
							return // the server is gone
						}
					}
				}
			}()
		}
		delay := time.Duration(10+rng.Int64N(290)) * time.Millisecond
		time.Sleep(delay) // the moment of the kill, drawn at random: not a wait for readiness
		srv.kill()
		wg.Wait()

		srv = e.afterCrash(t, round)
		// Every 201 is on disk with its id.
		onDisk := map[string]redemptionRow{}
		perCode := map[string]int{}
		for _, r := range e.redemptions("till") {
			require.False(t, r.RolledBack)
			onDisk[r.ID] = r
			perCode[r.Code]++
		}
		for id, code := range answered {
			r, ok := onDisk[id]
			if !ok || r.Code != code {
				t.Fatalf("round %d: redemption %s of %s was answered 201; on disk: %+v", round, id, code, r)
			}
		}
		// The tills retry what the kill left unanswered, with the same key:
		// a redemption that was committed is replayed, never made twice.
		retried := map[string]int{}
		for _, a := range unanswered {
			r := srv.do(t, "POST", "/v1/redeem", key, a.req, "Idempotency-Key", a.idem)
			switch r.status {
			case http.StatusCreated:
				var red redemptionJSON
				r.decode(t, &red)
				if prev, ok := answered[red.ID]; ok {
					require.Equal(t, a.req.Code, prev)
				}
				answered[red.ID] = a.req.Code
				_, replay := onDisk[red.ID]
				retried[map[bool]string{true: "replayed", false: "redeemed now"}[replay]]++
			case http.StatusConflict:
				require.Equal(t, "already_redeemed", r.errorCode(t), "%s", r)
				retried["already redeemed"]++
			default:
				t.Fatalf("round %d: retry of %+v: %s", round, a, r)
			}
		}
		// Now every request has its answer: the redemptions on disk are
		// exactly the ones answered 201.
		all := e.redemptions("till")
		perCode = map[string]int{}
		ids := map[string]bool{}
		for _, r := range all {
			ids[r.ID] = true
			perCode[r.Code]++
			if answered[r.ID] != r.Code {
				t.Fatalf("round %d: redemption %s of %s on disk was never answered 201", round, r.ID, r.Code)
			}
		}
		require.Len(t, ids, len(answered), "round %d", round)
		exported := e.codes("till")
		require.Len(t, exported, len(codes))
		for _, c := range exported {
			want := "available"
			if c.RedemptionCount == limit {
				want = "redeemed"
			}
			if c.RedemptionCount > limit || c.RedemptionCount != perCode[c.Code] || c.State != want {
				t.Fatalf("round %d: code %s is %s with %d redemptions (limit %d), %d on disk", round, c.Code, c.State, c.RedemptionCount, limit, perCode[c.Code])
			}
		}
		s := e.stats("till").Counts
		require.Equal(t, int64(len(codes)), s.Generated)
		require.Equal(t, int64(len(all)), s.Redeemed)
		t.Logf("round %d: killed after %s; %d redemptions answered before the kill, %d requests unanswered, retried: %v; %d redemptions in all",
			round, delay, created.Load(), len(unanswered), retried, len(all))
	}
}

// TestCrash_HotBackupUnderLoad takes a backup through the socket (`promo
// backup FILE`) and one over HTTP (GET /v1/backup) while 16 tills redeem.
// Each copy opens, passes `promo check`, holds every redemption answered
// before the backup began and only redemptions that were answered, and its
// counters agree with its redemptions.
func TestCrash_HotBackupUnderLoad(t *testing.T) {
	t.Parallel()
	const tills, perTill = 16, 1000
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "busy", "--kind", "generic", "--percent", "10")
	e.mustCLI("generate", "busy", "--count", fmt.Sprint(tills*perTill))
	codes := e.codes("busy")
	key, admin := e.key("tills", "pos"), e.key("admin", "admin")

	var mu sync.Mutex
	answered := map[string]string{} // redemption id → code
	snapshot := func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		cp := make(map[string]string, len(answered))
		for k, v := range answered {
			cp[k] = v
		}
		return cp
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range tills {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range codes[g*perTill : (g+1)*perTill] {
				if stop.Load() {
					return
				}
				r, err := srv.send(context.Background(), "POST", "/v1/redeem", key, redeemReq{Code: c.Code, OrderAmount: 1500})
				if err != nil || r.status != http.StatusCreated {
					t.Errorf("redeem %s: %v %s", c.Code, err, r)
					return
				}
				var red redemptionJSON
				if err := json.Unmarshal(r.body, &red); err != nil {
					t.Errorf("redeem %s: %v", c.Code, err)
					return
				}
				mu.Lock()
				answered[red.ID] = c.Code
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(answered) }
	eventually(t, 30*time.Second, "100 redemptions", func() bool { return count() >= 100 })

	type backup struct {
		how    string
		file   string
		before map[string]string // answered before the backup began
	}
	viaSocket := backup{how: "promo backup", file: filepath.Join(e.dir, "socket-copy.db"), before: snapshot()}
	out := e.mustCLI("backup", viaSocket.file)
	require.Contains(t, out, "wrote "+viaSocket.file)
	mark := count()
	eventually(t, 30*time.Second, "more redemptions", func() bool { return count() >= mark+50 })
	viaHTTP := backup{how: "GET /v1/backup", file: filepath.Join(e.dir, "http-copy.db"), before: snapshot()}
	r := srv.do(t, "GET", "/v1/backup", admin, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.NoError(t, os.WriteFile(viaHTTP.file, r.body, 0o600))
	r = srv.do(t, "GET", "/v1/backup", key, nil)
	require.Equal(t, http.StatusForbidden, r.status, "a till's key may not take a backup: %s", r)
	stillRunning := count() < tills*perTill
	stop.Store(true)
	wg.Wait()
	require.True(t, stillRunning, "the backups were taken under load")
	final := snapshot()

	for _, b := range []backup{viaSocket, viaHTTP} {
		res := runPromo(t, "", "--db", b.file, "check")
		require.Equal(t, 0, res.code, "%s: promo check on the copy: %s", b.how, res)
		reds := parseRedemptionCSV(t, runPromoOK(t, "--db", b.file, "export", "busy", "--redemptions"))
		inCopy := map[string]string{}
		redeemedCodes := map[string]bool{}
		for _, r := range reds {
			inCopy[r.ID] = r.Code
			redeemedCodes[r.Code] = true
			if final[r.ID] != r.Code {
				t.Fatalf("%s: redemption %s of %s in the copy was never answered 201", b.how, r.ID, r.Code)
			}
		}
		for id, code := range b.before {
			if inCopy[id] != code {
				t.Fatalf("%s: redemption %s of %s was answered before the backup began but is not in it", b.how, id, code)
			}
		}
		var s statsJSON
		require.NoError(t, json.Unmarshal([]byte(runPromoOK(t, "--db", b.file, "--json", "stats", "busy")), &s))
		require.Equal(t, int64(len(reds)), s.Counts.Redeemed, b.how)
		require.Equal(t, int64(len(reds)), s.Counts.ByState.Redeemed, b.how)
		require.Equal(t, int64(len(reds)*150), s.Counts.DiscountTotal, b.how)
		require.Equal(t, int64(len(codes)), s.Counts.Generated, b.how)
		redeemed := 0
		for _, c := range parseCodeCSV(t, runPromoOK(t, "--db", b.file, "export", "busy")) {
			if c.State == "redeemed" {
				redeemed++
				if !redeemedCodes[c.Code] {
					t.Fatalf("%s: code %s is redeemed without a redemption", b.how, c.Code)
				}
			}
		}
		require.Equal(t, len(reds), redeemed, b.how)
		t.Logf("%s: %d redemptions in the copy (%d answered before it began, %d in all)", b.how, len(reds), len(b.before), len(final))
	}
}

// runPromoOK runs the binary and requires exit status 0; it returns stdout.
func runPromoOK(t *testing.T, args ...string) string {
	t.Helper()
	res := runPromo(t, "", args...)
	require.Equal(t, 0, res.code, "promo %s: %s", strings.Join(args, " "), res)
	return res.stdout
}

// TestCrash_KillDuringBulkAssign kills the server (SIGKILL) at a random
// moment of `promo assign --customers FILE --out merged.csv` through its
// socket. The interrupted command fails (exit 3) without leaving a partial
// merged file; after the restart `promo check` passes and no customer holds
// two codes; running the same file again completes, every customer
// keeping the code the interrupted runs gave them.
func TestCrash_KillDuringBulkAssign(t *testing.T) {
	t.Parallel()
	n, rounds := 30_000, 3
	if testing.Short() {
		n, rounds = 5_000, 2
	}
	rng := newRand(t)
	e := startEnv(t)
	e.mustCLI("campaign", "create", "mailing", "--kind", "welcome", "--percent", "10")
	e.mustCLI("generate", "mailing", "--count", fmt.Sprint(n))
	in := filepath.Join(e.dir, "customers.csv")
	customers := writeCustomers(t, in, "m", n)

	holders := func(round int) map[string]string { // customer → code
		t.Helper()
		held := map[string]string{}
		for _, c := range e.codes("mailing", "--state", "assigned") {
			if prev, ok := held[c.CustomerID]; ok {
				t.Fatalf("round %d: customer %s holds two codes: %s and %s", round, c.CustomerID, prev, c.Code)
			}
			held[c.CustomerID] = c.Code
		}
		s := e.stats("mailing").Counts
		require.Equal(t, int64(len(held)), s.Assigned, "round %d", round)
		require.Equal(t, int64(n), s.Generated, "round %d: no code made on the spot", round)
		return held
	}
	var held map[string]string
	for round := range rounds {
		out := filepath.Join(e.dir, fmt.Sprintf("merged-%d.csv", round))
		cmd := promoCmd(context.Background(), "--db", e.db, "assign", "mailing", "--customers", in, "--out", out)
		var cmdOut syncBuffer
		cmd.Stdout, cmd.Stderr = &cmdOut, &cmdOut
		require.NoError(t, cmd.Start())
		delay := time.Duration(rng.Int64N(int64(900 * time.Millisecond)))
		time.Sleep(delay) // the moment of the kill, drawn at random: not a wait for readiness
		e.srv.kill()
		_ = cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		require.Contains(t, []int{0, 3}, code, "round %d: %s", round, cmdOut.String())
		if code != 0 {
			_, err := os.Stat(out)
			require.ErrorIs(t, err, os.ErrNotExist, "round %d: an interrupted run leaves no partial file", round)
		}
		e.afterCrash(t, round)
		prev := held
		held = holders(round)
		for cust, c := range prev {
			require.Equal(t, c, held[cust], "round %d: customer %s keeps their code", round, cust)
		}
		t.Logf("round %d: killed after %s; the command exited %d; %d of %d customers have their code", round, delay.Round(time.Millisecond), code, len(held), n)
	}

	final := filepath.Join(e.dir, "merged.csv")
	e.mustCLI("assign", "mailing", "--customers", in, "--out", final)
	b, err := os.ReadFile(final)
	require.NoError(t, err)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, n+1)
	for i, rec := range recs[1:] {
		require.Equal(t, customers[i][0], rec[0])
		if c, ok := held[rec[0]]; ok && c != rec[3] {
			t.Fatalf("customer %s had %s before the re-run, which gave %s", rec[0], c, rec[3])
		}
	}
	require.Len(t, holders(rounds), n)
}
