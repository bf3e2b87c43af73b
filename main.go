// Command promo runs a shop's unique promo codes: an HTTP API and an admin
// CLI over one bbolt file. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"promo/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once
	}()
	code := cli.Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
