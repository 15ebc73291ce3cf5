// Command hub runs every BNDMR service in one process over an embedded NATS
// JetStream server: the laptop demo and the end-to-end tests.
package main

import (
	"os"

	"github.com/bndmr/hub/services/internal/app"
)

func main() { os.Exit(app.HubMain(os.Args[1:])) }
