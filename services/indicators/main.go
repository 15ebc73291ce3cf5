// Command indicators is the indicators service of the BNDMR hub; see the README.
package main

import (
	"os"

	"github.com/bndmr/hub/services/internal/app"
)

func main() { os.Exit(app.Main(&app.Indicators{}, os.Args[1:])) }
