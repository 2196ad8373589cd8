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

// Assets serves the files under /ui/. A directory is not found: the
// server lists none of its assets' directories.
func Assets() http.Handler {
	sub, _ := fs.Sub(assets, "assets")
	return http.StripPrefix("/ui/", http.FileServer(http.FS(filesOnly{sub})))
}

// filesOnly is a file system whose directories cannot be opened, so that
// http.FileServer answers 404 where it would list one.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return file, nil
}

// Index is the page every view starts from.
func Index() []byte {
	b, _ := assets.ReadFile("assets/index.html")
	return b
}
