// Command ack is the ack service of the BNDMR hub; see the README.
package main

import (
	"os"

	"github.com/bndmr/hub/services/internal/app"
)

func main() { os.Exit(app.Main(&app.Ack{}, os.Args[1:])) }
