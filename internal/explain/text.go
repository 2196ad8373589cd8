package explain

import (
	"errors"
	"strconv"
	"strings"
)

// ParseHeatmap reads a heatmap region as a command line writes it,
// COLUMN:MIN:MAX, e.g. duration_ms:800:5000, over the base time range.
func ParseHeatmap(s string) (*Heatmap, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return nil, errors.New("want COLUMN:MIN:MAX")
	}
	lo, err1 := strconv.ParseFloat(parts[1], 64)
	hi, err2 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil {
		return nil, errors.New("MIN and MAX must be numbers")
	}
	return &Heatmap{Column: parts[0], Min: lo, Max: hi}, nil
}
