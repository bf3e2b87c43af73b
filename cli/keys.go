package cli

import (
	"fmt"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
	"promo/store"
)

func (e *env) keysCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "keys",
		Usage:     "create, list or revoke API keys",
		UsageText: "promo keys create NAME --role admin|issuer|pos | list | revoke NAME",
		Description: describe("API keys authenticate the HTTP API's callers. Roles: admin (everything) ⊃ issuer\n"+
			"(campaigns, codes, assignment, stats) ⊃ pos (validate and redeem).",
			"promo keys create till-3 --role pos",
			"promo keys list",
			"promo keys revoke till-3"),
		Subcommands: []*urfave.Command{
			{
				Name:      "create",
				Usage:     "make an API key; its secret is shown once",
				UsageText: "promo keys create NAME --role admin|issuer|pos",
				Description: describe("Makes a key and prints its secret, which is stored only as a hash: it cannot be shown\n"+
					"again. NAME is 1 to 64 lower-case letters, digits, '.', '_' or '-'.",
					"promo keys create checkout --role pos"),
				Flags: []urfave.Flag{
					&urfave.StringFlag{Name: "role", Usage: "`ROLE`: admin, issuer or pos"},
				},
				Action: e.createKey,
			},
			{
				Name:        "list",
				Usage:       "list the API keys (never their secrets)",
				UsageText:   "promo keys list",
				Description: describe("Lists every key with its role, the first characters of its secret, and when it was last used.", "promo keys list"),
				Action:      e.listKeys,
			},
			{
				Name:        "revoke",
				Usage:       "delete an API key: requests with it fail from now on",
				UsageText:   "promo keys revoke NAME",
				Description: describe("Deletes the key.", "promo keys revoke checkout"),
				Action:      e.revokeKey,
			},
		},
	}
}

func (e *env) createKey(c *urfave.Context) error {
	args, err := needArgs(c, "NAME")
	if err != nil {
		return err
	}
	if !c.IsSet("role") {
		return usageErrorf("--role is required: admin, issuer or pos, e.g. --role pos")
	}
	return e.withBackend(c, true, func(b Backend) error {
		key, secret, err := b.CreateKey(c.Context, args[0], c.String("role"))
		if err != nil {
			return e.withFlags(err, map[string]string{"name": "NAME", "role": "--role"})
		}
		if e.json {
			return e.printJSON(httpapi.KeyCreated{Key: key, Secret: secret})
		}
		fmt.Fprintf(e.stdout, "created key %s (role %s)\n\n  %s\n\n", key.Name, key.Role, secret)
		fmt.Fprintln(e.stdout, "This secret will not be shown again: only its hash is stored. Keep it now;")
		fmt.Fprintln(e.stdout, "callers send it as the header \"Authorization: Bearer <secret>\".")
		return nil
	})
}

func (e *env) listKeys(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	return e.withBackend(c, false, func(b Backend) error {
		keys, err := b.Keys()
		if err != nil {
			return err
		}
		if e.json {
			if keys == nil {
				keys = []store.Key{}
			}
			return e.printJSON(httpapi.KeyList{Keys: keys})
		}
		if len(keys) == 0 {
			fmt.Fprintln(e.stdout, "no API keys yet: create one with `promo keys create NAME --role pos`")
			return nil
		}
		t := newTable(e.stdout, "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED")
		for _, k := range keys {
			t.row(k.Name, k.Role, k.Prefix+"…", timeText(&k.CreatedAt), timeText(k.LastUsedAt))
		}
		return t.flush()
	})
}

func (e *env) revokeKey(c *urfave.Context) error {
	args, err := needArgs(c, "NAME")
	if err != nil {
		return err
	}
	return e.withBackend(c, false, func(b Backend) error {
		if err := b.RevokeKey(c.Context, args[0]); err != nil {
			return err
		}
		if !e.json { // the API answers 204 No Content
			fmt.Fprintf(e.stdout, "revoked key %s\n", args[0])
		}
		return nil
	})
}
