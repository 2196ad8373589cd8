package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// client talks to a running server for the CLI commands.
type client struct {
	server string
	key    string
	http   *http.Client
}

// addClientFlags adds --server and --key, defaulting from PRODEX_SERVER and
// PRODEX_KEY.
func addClientFlags(cmd *cobra.Command, c *client) {
	server := os.Getenv("PRODEX_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	cmd.Flags().StringVar(&c.server, "server", server, "Prodex server URL (env PRODEX_SERVER)")
	cmd.Flags().StringVar(&c.key, "key", os.Getenv("PRODEX_KEY"), "API key (env PRODEX_KEY)")
}

// do sends a request; v, if not nil, is encoded as the JSON body; the JSON
// answer is decoded into out. A non-2xx answer becomes an error carrying
// the server's message.
func (c *client) do(method, path string, v any, out any) error {
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.raw(method, path, "application/json", body, out)
}

func (c *client) raw(method, path, contentType string, body io.Reader, out any) error {
	if c.key == "" {
		return fmt.Errorf("no API key: pass --key or set PRODEX_KEY")
	}
	req, err := http.NewRequest(method, strings.TrimRight(c.server, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-Honeycomb-Team", c.key)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.http
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if b, ok := out.(*[]byte); ok { // the body as it is (Markdown, CSV)
		*b = data
		return nil
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
