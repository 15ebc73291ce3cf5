// Command ingest is the ingest service of the BNDMR hub; see the README.
package main

import (
	"os"

	"github.com/bndmr/hub/services/internal/app"
)

func main() { os.Exit(app.Main(&app.Ingest{}, os.Args[1:])) }
