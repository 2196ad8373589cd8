package event

import "bytes"

// jsonArray finds the elements of a JSON array one after another without
// parsing them, so that each can be parsed (and checked) alone. It checks
// only the array's own syntax: the brackets, commas and whitespace between
// elements, and that each element's brackets balance outside strings; the
// parser checks the rest of an element.
type jsonArray struct {
	buf []byte
	i   int
	n   int // elements found
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (a *jsonArray) skipSpace() {
	for a.i < len(a.buf) && isJSONSpace(a.buf[a.i]) {
		a.i++
	}
}

// open reads the opening bracket; a body that is not an array is a 400
// naming what it is instead.
func (a *jsonArray) open() error {
	a.skipSpace()
	if a.i == len(a.buf) {
		return badRequest("invalid JSON: the body is empty")
	}
	if c := a.buf[a.i]; c != '[' {
		return badRequest("batch body must be a JSON array, not %s", jsonKind(c))
	}
	a.i++
	return nil
}

// jsonKind names the type of the JSON value starting with c.
func jsonKind(c byte) string {
	switch {
	case c == '{':
		return "object"
	case c == '"':
		return "string"
	case c == '-' || c >= '0' && c <= '9':
		return "number"
	case c == 't' || c == 'f':
		return "true or false"
	case c == 'n':
		return "null"
	}
	return "invalid JSON"
}

// next returns the next element's text, or nil after the closing bracket
// (and only whitespace after it).
func (a *jsonArray) next() ([]byte, error) {
	a.skipSpace()
	if a.i == len(a.buf) {
		return nil, badRequest("invalid JSON: unexpected end of the batch array")
	}
	if a.n > 0 {
		switch a.buf[a.i] {
		case ']':
			return a.close()
		case ',':
			a.i++
			a.skipSpace()
		default:
			return nil, badRequest("invalid JSON: want ',' or ']' after batch element %d, found %q", a.n, a.buf[a.i])
		}
	} else if a.buf[a.i] == ']' {
		return a.close()
	}
	start := a.i
	depth := 0
	for a.i < len(a.buf) {
		c := a.buf[a.i]
		switch c {
		case '"':
			if !a.skipString() {
				return nil, badRequest("invalid JSON: unterminated string in batch element %d", a.n)
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				if c == '}' {
					return nil, badRequest("invalid JSON: unexpected '}' in batch element %d", a.n)
				}
				return a.element(start)
			}
			depth--
		case ',':
			if depth == 0 {
				return a.element(start)
			}
		}
		a.i++
	}
	return nil, badRequest("invalid JSON: unexpected end of the batch array")
}

// element ends the element begun at start, at a.i (a ',' or ']' outside
// any brackets).
func (a *jsonArray) element(start int) ([]byte, error) {
	end := a.i
	for end > start && isJSONSpace(a.buf[end-1]) {
		end--
	}
	if end == start {
		return nil, badRequest("invalid JSON: empty batch element %d", a.n)
	}
	a.n++
	return a.buf[start:end], nil
}

// skipString moves past the string whose opening quote is at a.i; false
// when it does not end.
func (a *jsonArray) skipString() bool {
	for i := a.i + 1; ; {
		q := bytes.IndexByte(a.buf[i:], '"')
		if q < 0 {
			return false
		}
		i += q
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		bs := 0
		for j := i - 1; j > a.i && a.buf[j] == '\\'; j-- {
			bs++
		}
		i++
		if bs%2 == 0 {
			a.i = i
			return true
		}
	}
}

// close reads the closing bracket; only whitespace may follow it.
func (a *jsonArray) close() ([]byte, error) {
	a.i++
	a.skipSpace()
	if a.i != len(a.buf) {
		return nil, badRequest("invalid JSON: unexpected data after the batch array")
	}
	return nil, nil
}
