package event

import (
	"bytes"
	"fmt"
	"time"

	"github.com/valyala/fastjson"
)

// parseJSON parses a whole JSON body. fastjson's parser is lenient (it
// takes NaN, Inf and malformed numbers) while its validator is strict but
// does not bound nesting, so the validator runs only on a document the
// parser, which does, has accepted.
func (d *decoder) parseJSON(buf []byte) (*fastjson.Value, error) {
	v, err := d.jp.ParseBytes(buf)
	if err != nil {
		return nil, badRequest("invalid JSON: %v", err)
	}
	if err := fastjson.ValidateBytes(buf); err != nil {
		return nil, badRequest("invalid JSON: %v", err)
	}
	return v, nil
}

// jsonBatch decodes a batch array one element at a time: the parser only
// ever holds one element's values, and the elements are counted as they
// are found, so that a body of too many events is refused before they are
// decoded (a body parsed whole holds ~3 KB of parser values per small
// event).
func (d *decoder) jsonBatch(buf []byte) ([]Item, error) {
	arr := jsonArray{buf: buf}
	if err := arr.open(); err != nil {
		return nil, err
	}
	var items []Item
	for {
		el, err := arr.next()
		if err != nil {
			return nil, err
		}
		if el == nil {
			return items, nil
		}
		if len(items) == d.flat.lim.MaxEvents {
			return nil, tooManyEvents(d.flat.lim.MaxEvents)
		}
		if len(el) > d.parsed {
			if err := d.meter.add(parserFactor * int64(len(el)-d.parsed)); err != nil {
				return nil, err
			}
			d.parsed = len(el)
		}
		v, err := d.parseJSON(el)
		if err != nil {
			return nil, err
		}
		var it Item
		it.Event, it.Err = d.jsonBatchEvent(v)
		items = append(items, it)
		if err := d.meter.add(d.flat.footprint(it)); err != nil {
			return nil, err
		}
	}
}

// jsonBatchEvent decodes one batch element, {"data":{…},"time":…,"samplerate":…}.
func (d *decoder) jsonBatchEvent(el *fastjson.Value) (Event, error) {
	o, err := el.Object()
	if err != nil {
		return Event{}, fmt.Errorf("batch element is %s, not an object", el.Type())
	}
	data := o.Get("data")
	if data == nil || data.Type() == fastjson.TypeNull {
		return Event{}, fmt.Errorf(`missing "data" object`)
	}
	dataObj, err := data.Object()
	if err != nil {
		return Event{}, fmt.Errorf(`"data" is %s, not an object`, data.Type())
	}
	t, err := d.jsonTime(o.Get("time"))
	if err != nil {
		return Event{}, err
	}
	rate, err := d.jsonSampleRate(o.Get("samplerate"))
	if err != nil {
		return Event{}, err
	}
	d.flat.start(dataObj.Len())
	d.flat.jsonObject(dataObj)
	fields, err := d.flat.finish()
	if err != nil {
		return Event{}, err
	}
	return Event{Time: t, SampleRate: rate, Fields: fields}, nil
}

// jsonTime is a batch element's "time": RFC 3339 or epoch text, an epoch
// number, or null, absent or "" for now (see eventTime).
func (d *decoder) jsonTime(v *fastjson.Value) (time.Time, error) {
	var t time.Time
	var err error
	var text string
	switch {
	case v == nil || v.Type() == fastjson.TypeNull:
		return d.now, nil
	case v.Type() == fastjson.TypeString:
		b, _ := v.StringBytes()
		if b = bytes.TrimSpace(b); len(b) == 0 {
			return d.now, nil
		}
		text = fmt.Sprintf("%q", clip(string(b)))
		t, err = parseTimeText(b)
	case v.Type() == fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		text = clip(string(d.num))
		t, err = epochText(d.num)
	default:
		return time.Time{}, fmt.Errorf(`invalid "time": %s, want a string or a number`, v.Type())
	}
	if err == nil {
		t, err = eventTime(t, d.now)
	}
	if err != nil {
		return time.Time{}, timeError(text, err)
	}
	return t, nil
}

// jsonSampleRate is a batch element's "samplerate": an integral number;
// null, absent and 0 mean 1.
func (d *decoder) jsonSampleRate(v *fastjson.Value) (int64, error) {
	switch {
	case v == nil || v.Type() == fastjson.TypeNull:
		return 1, nil
	case v.Type() == fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		rate, err := sampleRateText(d.num)
		if err != nil {
			return 0, sampleRateError(clip(string(d.num)), err)
		}
		return rate, nil
	}
	return 0, fmt.Errorf(`invalid "samplerate": %s, want a number`, v.Type())
}

func timeError(val string, err error) error {
	return fmt.Errorf(`invalid "time" %s: %v`, val, err)
}

func sampleRateError(val string, err error) error {
	return fmt.Errorf(`invalid "samplerate" %s: %v`, val, err)
}

// jsonSingle decodes a /1/events body: one JSON object, the event's data.
func (d *decoder) jsonSingle(buf []byte) (map[string]any, error) {
	v, err := d.parseJSON(buf)
	if err != nil {
		return nil, err
	}
	o, err := v.Object()
	if err != nil {
		return nil, badRequest("event body must be a JSON object, not %s", v.Type())
	}
	d.flat.start(o.Len())
	d.flat.jsonObject(o)
	return d.flat.finish()
}
