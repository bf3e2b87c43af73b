//go:build unix

package main

// The linearizability check of linearizability_test.go on a cluster: the
// same clients, model and checker, through two promo nodes on one 3-member
// etcd cluster whose leader crashes under the load.

import (
	"fmt"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

// TestLinearizable_Cluster runs 16 clients redeeming, rolling back and
// reading 4 codes of a campaign with 3 uses per code through two promo
// nodes (client i through node i%2 + 1) on a 3-member etcd cluster, for
// about 10 to 16 s, while the cluster's leader is stopped at once
// (HardStop, as a crash) at a random moment, the two members left elect
// another and carry the load for a few seconds, and the stopped member is
// restarted on its data. Meanwhile the nodes answer some writes 503
// unavailable: nothing was written (no leader yet), or etcd did not
// confirm the commit in time and it may have taken effect, or may still.
// The clients take neither for an answer and send the same request (the
// same Idempotency-Key) again until they get one, or find at the end
// from the final reads whether a redemption was made.
//
// The history must be linearizable for the model of linStep: an answered
// redemption missing from a later read (a lost acknowledgement), or a
// code with more live redemptions than its limit or an order redeemed
// twice (a double redemption), has no legal order. `promo --etcd check`
// runs after the test (newEtcdEnv's cleanup) and must pass.
func TestLinearizable_Cluster(t *testing.T) {
	const clients, nCodes, limit = 16, 4, 3
	rng := newRand(t)
	e := newEtcdEnv(t)
	codes := linCampaign(t, e.mustCLI, nCodes, limit)
	pos, staff := e.key("tills", "pos"), e.key("office", "issuer")
	a, b := e.node(1), e.node(2)
	r := startLinRun(t, rng, clients, codes, pos, staff, newLinTarget(a.url), newLinTarget(b.url))

	load := time.Duration(3000+rng.IntN(2000)) * time.Millisecond
	time.Sleep(load) // the moment of the crash, drawn at random: not a wait for readiness
	leader := -1
	eventually(t, 10*time.Second, "a leader to stop", func() bool { leader = e.cluster.Leader(); return leader >= 0 })
	stopped := r.hist.now()
	e.cluster.HardStop(leader)
	t.Logf("leader m%d stopped (HardStop) after %s of load", leader, load)

	time.Sleep(time.Duration(4000+rng.IntN(2000)) * time.Millisecond) // load on the two members left
	next := -1
	eventually(t, 10*time.Second, "a leader of the two members left", func() bool { next = e.cluster.Leader(); return next >= 0 })
	restarting := r.hist.now()
	require.NoError(t, e.cluster.Restart(leader))
	restarted := r.hist.now()
	t.Logf("m%d led the two members left; m%d restarted on its data after %s down, in %s", next, leader,
		time.Duration(restarting-stopped).Round(time.Millisecond), time.Duration(restarted-restarting).Round(time.Millisecond))
	annotations := []porcupine.Annotation{
		{Tag: "etcd", Start: stopped, End: restarting, Description: fmt.Sprintf("leader m%d stopped (HardStop)", leader), BackgroundColor: "#f4cccc"},
		{Tag: "etcd", Start: restarting, End: restarted, Description: fmt.Sprintf("m%d restarting", leader), BackgroundColor: "#fce5cd"},
	}

	time.Sleep(time.Duration(3000+rng.IntN(2000)) * time.Millisecond) // load on the whole cluster again
	r.finish(limit, annotations)
}
