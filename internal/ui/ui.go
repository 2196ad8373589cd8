// Package ui is the web interface: static pages and scripts embedded in
// the binary, which read everything through the same HTTP API as the CLI.
// Charts are drawn by uPlot (vendored from npm by scripts/vendor-ui.sh).
// Pages build their DOM with textContent, never HTML strings, so field
// names and values holding markup are shown as text.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Assets serves the files under /ui/.
func Assets() http.Handler {
	sub, _ := fs.Sub(assets, "assets")
	return http.StripPrefix("/ui/", http.FileServer(http.FS(sub)))
}

// Index is the page every view starts from.
func Index() []byte {
	b, _ := assets.ReadFile("assets/index.html")
	return b
}
