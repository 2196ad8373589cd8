package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/prodex/prodex/internal/event"
)

func sendCmd() *cobra.Command {
	var c client
	var batchSize int
	var timeField string
	cmd := &cobra.Command{
		Use:   "send DATASET",
		Short: "Send JSON lines from standard input as events",
		Long: "Each line of standard input is one JSON object: the event's fields. With --time-field NAME,\n" +
			"that field (RFC3339 or Unix seconds) is the event's time and is removed from the fields.\n" +
			"Exits non-zero if any line was rejected, after reporting each one.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := event.NormalizeDataset(args[0])
			if err != nil {
				return err
			}
			return send(&c, ds, os.Stdin, batchSize, timeField)
		},
	}
	cmd.Flags().IntVar(&batchSize, "batch", 500, "events per request")
	cmd.Flags().StringVar(&timeField, "time-field", "", "field holding the event time")
	addClientFlags(cmd, &c)
	return cmd
}

type wireEvent struct {
	Time json.RawMessage `json:"time,omitempty"`
	Data json.RawMessage `json:"data"`
}

func send(c *client, ds string, in io.Reader, batchSize int, timeField string) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 2<<20)
	var batch []wireEvent
	var lines []int
	line, sent, rejected := 0, 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		body, err := json.Marshal(batch)
		if err != nil {
			return err
		}
		var out []struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
		}
		if err := c.raw("POST", "/1/batch/"+ds, "application/json", bytes.NewReader(body), &out); err != nil {
			return fmt.Errorf("lines %d-%d not sent: %w", lines[0], lines[len(lines)-1], err)
		}
		for i, st := range out {
			if st.Status/100 == 2 {
				sent++
			} else {
				rejected++
				fmt.Fprintf(os.Stderr, "line %d: %s\n", lines[i], st.Error)
			}
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			rejected++
			fmt.Fprintf(os.Stderr, "line %d: not a JSON object: %v\n", line, err)
			continue
		}
		we := wireEvent{}
		if timeField != "" {
			if t, ok := obj[timeField]; ok {
				we.Time = t // the batch API takes RFC3339 strings and epoch numbers
				delete(obj, timeField)
			}
		}
		data, _ := json.Marshal(obj)
		we.Data = data
		batch = append(batch, we)
		lines = append(lines, line)
		if len(batch) >= batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading input at line %d: %w", line+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sent %d events, %d rejected\n", sent, rejected)
	if rejected > 0 {
		return fmt.Errorf("%d of %d events were rejected", rejected, sent+rejected)
	}
	return nil
}
