// Command promo runs a shop's unique promo codes: an HTTP API and an admin
// CLI over one bbolt file.
package main

import "fmt"

func main() {
	fmt.Println("promo: engine packages gen, bloom and store; the CLI and HTTP API come next")
}
