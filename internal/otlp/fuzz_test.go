package otlp

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/prodex/prodex/internal/event"
)

// FuzzConvert: any protobuf or JSON body that pdata decodes converts to
// events without a panic, each valid for the store or counted rejected.
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"x"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a","attributes":[{"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"bytesValue":"AAE="}}]}}}],"events":[{"name":"e"}],"links":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175"}]}]}]}]}`), true)
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}},"severityNumber":17}]}]}]}`), true)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, false)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		tr, lg := ptraceotlp.NewExportRequest(), plogotlp.NewExportRequest()
		var errT, errL error
		if json {
			errT, errL = tr.UnmarshalJSON(body), lg.UnmarshalJSON(body)
		} else {
			errT, errL = tr.UnmarshalProto(body), lg.UnmarshalProto(body)
		}
		c := newConverter("", event.DefaultLimits(), now)
		if errT == nil {
			c.convertTraces(tr.Traces())
		}
		if errL == nil {
			c.convertLogs(lg.Logs())
		}
		for _, b := range c.order {
			for _, ev := range b.Events {
				if ev.SampleRate < 1 || len(ev.Fields) > event.DefaultMaxFields {
					t.Fatalf("invalid event %+v", ev)
				}
			}
		}
	})
}
