package otlp

import "google.golang.org/protobuf/encoding/protowire"

// protoEvents counts the events an OTLP export request in protobuf would
// make, reading only its wire format, so that a request of too many is
// refused before it is decoded (a decoded request holds up to six times
// its encoding). Traces and logs have the same shape: field 1 of the
// request holds resources, field 2 of a resource its scopes, field 2 of a
// scope its spans or log records; a span's fields 11 and 13 are its span
// events and links (a log record's field 11 is a fixed64, not counted).
// It stops counting past max; a malformed request is left to the decoder.
func protoEvents(b []byte, max int) int {
	n := 0
	each(b, 1, func(res []byte) bool {
		each(res, 2, func(scope []byte) bool {
			each(scope, 2, func(item []byte) bool {
				n++
				each(item, 11, func([]byte) bool { n++; return n <= max })
				each(item, 13, func([]byte) bool { n++; return n <= max })
				return n <= max
			})
			return n <= max
		})
		return n <= max
	})
	return n
}

// each calls fn with every length-delimited field numbered num of the
// message b, until fn returns false.
func each(b []byte, num protowire.Number, fn func([]byte) bool) {
	for len(b) > 0 {
		f, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if f == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return
			}
			b = b[m:]
			if !fn(v) {
				return
			}
			continue
		}
		m := protowire.ConsumeFieldValue(f, typ, b)
		if m < 0 {
			return
		}
		b = b[m:]
	}
}
