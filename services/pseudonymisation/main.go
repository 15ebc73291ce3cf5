// Command pseudonymisation is the pseudonymisation service of the BNDMR hub; see the README.
package main

import (
	"os"

	"github.com/bndmr/hub/services/internal/app"
)

func main() { os.Exit(app.Main(&app.Pseudonymisation{}, os.Args[1:])) }
