package event

import (
	"net/http"
	"strings"
	"testing"
)

// TestJSONArrayElements: the batch array is split into its elements
// without parsing them — strings may hold brackets, commas and escaped
// quotes — and a body that is not one array is a 400.
func TestJSONArrayElements(t *testing.T) {
	for body, want := range map[string][]string{
		`[]`:                                     nil,
		" \n[ ]\t":                               nil,
		`[{"data":{"a":"],[{\"}"}},{"data":{}}]`: {`{"data":{"a":"],[{\"}"}}`, `{"data":{}}`},
		`[ 1 , "x\\" , [1,[2]] ,{"a":{"b":[]}} ] `:      {`1`, `"x\\"`, `[1,[2]]`, `{"a":{"b":[]}}`},
		`[{"data":{"s":"\\\\"}},{"data":{"t":"\\\""}}]`: {`{"data":{"s":"\\\\"}}`, `{"data":{"t":"\\\""}}`},
	} {
		a := jsonArray{buf: []byte(body)}
		if err := a.open(); err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		var got []string
		for {
			el, err := a.next()
			if err != nil {
				t.Errorf("%s: %v", body, err)
				break
			}
			if el == nil {
				break
			}
			got = append(got, string(el))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: elements %q, want %q", body, got, want)
		}
	}
	for body, msg := range map[string]string{
		``:                     "empty",
		`{"data":{}}`:          "must be a JSON array, not object",
		`"x"`:                  "not string",
		`[`:                    "unexpected end",
		`[{"data":{}}`:         "unexpected end",
		`[{"data":{}},]`:       "empty batch element",
		`[,{"data":{}}]`:       "empty batch element",
		`[{"data":{}} {}]`:     "invalid JSON",
		`[{"data":{}}] x`:      "after the batch array",
		`[{"data":"}]`:         "unterminated string",
		`[{"data":{}}}]`:       "unexpected '}'",
		`[{"data":{"a":1]}}]`:  "invalid JSON",
		`[{"data":{"a":1}}]]]`: "after the batch array",
	} {
		_, err := DecodeBatch(strings.NewReader(body), "", "", Limits{}, testNow)
		if err == nil || requestStatus(t, err) != http.StatusBadRequest || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want a 400 saying %q", body, err, msg)
		}
	}
}
