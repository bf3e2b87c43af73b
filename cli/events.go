package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

// eventsPage is how many events one read asks for.
const eventsPage = 1000

func (e *env) eventsCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "events",
		Usage:     "print the event log, oldest first, or follow it",
		UsageText: "promo events [--after N] [--limit N] [--follow]",
		Description: describe("Prints one line per event: its sequence number, time, type and details. --follow keeps\n"+
			"printing new events as they happen until interrupted. With --json, one JSON object a line.",
			"promo events --after 1200 --follow",
			"promo --json events --limit 100"),
		Flags: []urfave.Flag{
			&urfave.Uint64Flag{Name: "after", Usage: "start after event number `N`"},
			&urfave.IntFlag{Name: "limit", Usage: "print at most `N` events", DefaultText: "all"},
			&urfave.BoolFlag{Name: "follow", Usage: "wait for new events and print them as they happen, until interrupted"},
		},
		Action: e.events,
	}
}

func (e *env) events(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	after, limit, follow := c.Uint64("after"), c.Int("limit"), c.Bool("follow")
	if limit < 0 {
		return usageErrorf("--limit: want 1 or more events, or leave it out for all, got %d", limit)
	}
	ctx := c.Context
	printed := 0
	for {
		// In direct mode the file is opened for each poll and closed between
		// polls, so a follower never keeps other commands (or promo serve)
		// out of the database; through the socket it long-polls the server.
		caughtUp := false
		err := e.withBackend(c, false, func(b Backend) error {
			_, direct := b.(*store.Store)
			for {
				n := eventsPage
				if limit > 0 {
					n = min(n, limit-printed)
				}
				list, err := b.Events(after, n)
				if err != nil {
					return err
				}
				for _, ev := range list {
					if err := e.printEvent(ev); err != nil {
						return err
					}
					after = ev.Seq
				}
				printed += len(list)
				switch {
				case limit > 0 && printed >= limit, len(list) < n && !follow:
					return nil
				case len(list) == n:
					continue // there may be more
				case direct:
					caughtUp = true
					return nil
				}
				if err := b.WaitEvents(ctx, after); err != nil {
					return err
				}
			}
		})
		if ctx.Err() != nil {
			return nil // interrupted: following ends here
		}
		if err != nil || !caughtUp {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
	}
}

// followPoll is how often a follower without a server looks for new events.
const followPoll = time.Second

func (e *env) printEvent(ev store.Event) error {
	if e.json {
		return e.printJSON(ev)
	}
	_, err := io.WriteString(e.stdout, eventLine(ev)+"\n")
	return err
}

// eventLine shows an event on one line: number, time, type and its
// details as key=value.
func eventLine(ev store.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-6d %s %-22s", ev.Seq, ev.Time.UTC().Format("2006-01-02T15:04:05Z"), ev.Type)
	add := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + quoteIfNeeded(v))
		}
	}
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	add("campaign", ev.Campaign)
	add("code", ev.Code)
	add("customer", ev.CustomerID)
	add("channel", ev.Channel)
	add("redemption", ev.Redemption)
	add("order", ev.OrderID)
	add("amount", num(ev.OrderAmount))
	add("discount", num(ev.Discount))
	add("currency", ev.Currency)
	add("terminal", ev.Terminal)
	add("reward", ev.RewardCode)
	add("batch", ev.Batch)
	add("count", num(ev.Count))
	add("status", ev.Status)
	add("key", ev.Key)
	add("role", ev.Role)
	add("reason", ev.Reason)
	return strings.TrimRight(b.String(), " ")
}
