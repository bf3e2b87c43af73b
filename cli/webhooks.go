package cli

import (
	"fmt"
	"strings"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
	"promo/store"
)

func (e *env) webhooksCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "webhooks",
		Usage:     "send the event log to other systems: add, list, remove webhooks, see their deliveries",
		UsageText: "promo webhooks add URL --events T1,T2 [--description D] | list | remove ID | deliveries ID",
		Description: describe("`promo serve` POSTs each event of the log to every webhook subscribed to its type, signed\n"+
			"(Promo-Signature: t=...,v1=HMAC-SHA256(secret, \"t.body\")), in order, at least once, retrying for\n"+
			"3 days. README's \"Integrations\" shows a receiver. Event types: "+strings.Join(store.EventTypes, ", ")+".",
			"promo webhooks add https://crm.example.com/promo --events code.redeemed,redemption.rolled_back",
			"promo webhooks deliveries wh_1a2b"),
		Subcommands: []*urfave.Command{
			{
				Name:      "add",
				Usage:     "subscribe a URL to event types; its signing secret is shown once",
				UsageText: "promo webhooks add URL --events T1,T2 [--description D]",
				Description: describe("Subscribes URL from the log's end on. --events is a comma-separated list of event types,\n"+
					"or * for all.", `promo webhooks add https://crm.example.com/promo --events "*" --description CRM`),
				Flags: []urfave.Flag{
					&urfave.StringFlag{Name: "events", Usage: "comma-separated event `TYPES`, or * for all"},
					&urfave.StringFlag{Name: "description", Usage: "what the webhook is for"},
				},
				Action: e.addWebhook,
			},
			{
				Name:        "list",
				Usage:       "list the webhooks and where each is in the log",
				UsageText:   "promo webhooks list",
				Description: describe("Lists each webhook with its events, the last event it is done with, and whether it is failing.", "promo webhooks list"),
				Action:      e.listWebhooks,
			},
			{
				Name:        "remove",
				Usage:       "delete a webhook",
				UsageText:   "promo webhooks remove ID",
				Description: describe("Deletes the webhook and its attempts; nothing more is sent to it.", "promo webhooks remove wh_1a2b"),
				Action:      e.removeWebhook,
			},
			{
				Name:        "deliveries",
				Usage:       "show a webhook's recent attempts",
				UsageText:   "promo webhooks deliveries ID",
				Description: describe("Shows the last 100 attempts, newest first: the event, the receiver's status, how long it took, the error.", "promo webhooks deliveries wh_1a2b"),
				Action:      e.webhookDeliveries,
			},
		},
	}
}

var webhookFields = map[string]string{"url": "URL", "events": "--events", "description": "--description", "id": "ID"}

func (e *env) addWebhook(c *urfave.Context) error {
	args, err := needArgs(c, "URL")
	if err != nil {
		return err
	}
	if !c.IsSet("events") {
		return usageErrorf("--events is required: e.g. --events code.redeemed,redemption.rolled_back, or --events '*'")
	}
	var events []string
	for _, t := range strings.Split(c.String("events"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			events = append(events, t)
		}
	}
	return e.withBackend(c, true, func(b Backend) error {
		w, secret, err := b.CreateWebhook(c.Context, store.WebhookSpec{URL: args[0], Events: events, Description: c.String("description")})
		if err != nil {
			return e.withFlags(err, webhookFields)
		}
		if e.json {
			return e.printJSON(httpapi.WebhookCreated{Webhook: w, Secret: secret})
		}
		fmt.Fprintf(e.stdout, "added webhook %s for %s (%s)\n\n  %s\n\n", w.ID, w.URL, strings.Join(w.Events, ", "), secret)
		fmt.Fprintln(e.stdout, "This signing secret will not be shown again. The receiver checks each request's")
		fmt.Fprintln(e.stdout, "Promo-Signature with it (README, \"Integrations\"). Deliveries start with the next event.")
		return nil
	})
}

func (e *env) listWebhooks(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	return e.withBackend(c, false, func(b Backend) error {
		hooks, err := b.Webhooks()
		if err != nil {
			return err
		}
		if e.json {
			if hooks == nil {
				hooks = []store.Webhook{}
			}
			return e.printJSON(httpapi.WebhookList{Webhooks: hooks})
		}
		t := newTable(e.stdout, "ID", "URL", "EVENTS", "DONE WITH", "STATE")
		for _, w := range hooks {
			state := "ok"
			switch {
			case w.Disabled:
				state = "disabled " + timeText(w.DisabledAt)
			case w.Failing != nil:
				state = fmt.Sprintf("failing since %s (%d attempts)", timeText(w.Failing), w.Attempts)
			}
			t.row(w.ID, w.URL, strings.Join(w.Events, ","), fmt.Sprintf("event %d", w.Delivered), state)
		}
		return t.flush()
	})
}

func (e *env) removeWebhook(c *urfave.Context) error {
	args, err := needArgs(c, "ID")
	if err != nil {
		return err
	}
	return e.withBackend(c, false, func(b Backend) error {
		if err := b.DeleteWebhook(c.Context, args[0]); err != nil {
			return e.withFlags(err, webhookFields)
		}
		if !e.json {
			fmt.Fprintf(e.stdout, "removed webhook %s\n", args[0])
		}
		return nil
	})
}

func (e *env) webhookDeliveries(c *urfave.Context) error {
	args, err := needArgs(c, "ID")
	if err != nil {
		return err
	}
	return e.withBackend(c, false, func(b Backend) error {
		ds, err := b.WebhookDeliveries(args[0])
		if err != nil {
			return e.withFlags(err, webhookFields)
		}
		if e.json {
			return e.printJSON(httpapi.DeliveryList{Deliveries: ds})
		}
		t := newTable(e.stdout, "AT", "EVENT", "TYPE", "STATUS", "MS", "ERROR")
		for _, d := range ds {
			status := "-"
			if d.Status != 0 {
				status = fmt.Sprint(d.Status)
			}
			at := d.At
			t.row(at.UTC().Format(time.RFC3339), d.Seq, d.Type, status, fmt.Sprintf("%.1f", d.DurationMS), orDash(d.Error))
		}
		return t.flush()
	})
}
