package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/prodex/prodex/internal/api"
)

// Event is one element of a /1/batch request, as Honeycomb's API spells
// it; the server decodes the format without a Go type of its own.
type Event struct {
	// Time is the event's time as JSON: an RFC 3339 string or Unix epoch
	// seconds (or ms, µs, ns); empty for the time it arrives.
	Time json.RawMessage `json:"time,omitempty"`
	// SampleRate is how many events this one stands for; 0 means 1.
	SampleRate int64 `json:"samplerate,omitempty"`
	// Data is the event's fields, a JSON object.
	Data json.RawMessage `json:"data"`
}

// NewEvent is an event of fields at a time (zero: when it arrives).
func NewEvent(at time.Time, fields map[string]any) (Event, error) {
	var ev Event
	var err error
	if !at.IsZero() {
		if ev.Time, err = json.Marshal(at.Format(time.RFC3339Nano)); err != nil {
			return ev, err
		}
	}
	ev.Data, err = json.Marshal(fields)
	return ev, err
}

// Batch sends events to a dataset; the answer has one status per event,
// 202 for each accepted once it is committed.
func (c *Client) Batch(ctx context.Context, dataset string, events []Event) ([]api.BatchStatus, error) {
	var out []api.BatchStatus
	return out, c.call(ctx, "POST", "/1/batch/"+esc(dataset), events, &out)
}

// SendLines sends the JSON objects of in, one a line, as events of dataset,
// batchSize to a request. With timeField, that field (RFC 3339 or Unix
// seconds) is an event's time and is taken out of its fields. A line that
// is not a JSON object, or whose event the server refuses, goes to reject
// (if not nil) with its number and the reason, and the sending goes on; a
// request that fails stops it.
func (c *Client) SendLines(ctx context.Context, dataset string, in io.Reader, batchSize int, timeField string, reject func(line int, reason string)) (sent, rejected int, err error) {
	if reject == nil {
		reject = func(int, string) {}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 2<<20)
	var batch []Event
	var lines []int
	line := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := c.Batch(ctx, dataset, batch)
		if err != nil {
			return fmt.Errorf("lines %d-%d not sent: %w", lines[0], lines[len(lines)-1], err)
		}
		for i, st := range out {
			if st.Status/100 == 2 {
				sent++
			} else {
				rejected++
				reject(lines[i], st.Error)
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
			reject(line, fmt.Sprintf("not a JSON object: %v", err))
			continue
		}
		var ev Event
		if timeField != "" {
			if t, ok := obj[timeField]; ok {
				ev.Time = t // the batch API takes RFC 3339 strings and epoch numbers
				delete(obj, timeField)
			}
		}
		ev.Data, _ = json.Marshal(obj)
		batch = append(batch, ev)
		lines = append(lines, line)
		if len(batch) >= batchSize {
			if err := flush(); err != nil {
				return sent, rejected, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sent, rejected, fmt.Errorf("reading input at line %d: %w", line+1, err)
	}
	return sent, rejected, flush()
}
