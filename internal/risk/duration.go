package risk

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a duration written as Go does ("30m", "1h30m") or in whole
// days ("3d"), as risk estimates are.
type Duration time.Duration

// ParseDuration reads "45m", "1h30m", "2d".
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 30m, 1h30m or 2d)", s)
		}
		return Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 30m, 1h30m or 2d)", s)
	}
	return Duration(d), nil
}

// Minutes is the duration in minutes.
func (d Duration) Minutes() float64 { return time.Duration(d).Minutes() }

// String writes whole days, hours or minutes as such ("2d", "90m"),
// anything else as Go does.
func (d Duration) String() string {
	t := time.Duration(d)
	switch {
	case t == 0:
		return "0m"
	case t%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	case t%time.Hour == 0:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	case t%time.Minute == 0:
		return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
	}
	return t.Round(time.Second).String()
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30m\", got %s", b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
