package duration

import (
	"encoding/json"
	"strconv"
	"time"
)

// Coarse is a Duration written in the one unit it is whole in ("2d",
// "36h", "90m"), anything else rounded to the second as Go writes it
// ("3m12s"). Risk estimates and measured incident times are Coarse: the
// UI's what-if sliders read them as one number and one unit, and a time
// measured to the nanosecond is shown to the second. It reads every form
// Parse does.
type Coarse Duration

// String writes whole days, hours or minutes as such ("2d", "90m"),
// anything else as Go does, to the second.
func (c Coarse) String() string {
	t := time.Duration(c)
	switch {
	case t == 0:
		return "0m"
	case t%day == 0:
		return strconv.FormatInt(int64(t/day), 10) + "d"
	case t%time.Hour == 0:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	case t%time.Minute == 0:
		return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
	}
	return t.Round(time.Second).String()
}

// Minutes is the duration in minutes.
func (c Coarse) Minutes() float64 { return time.Duration(c).Minutes() }

func (c Coarse) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

func (c *Coarse) UnmarshalJSON(b []byte) error { return (*Duration)(c).UnmarshalJSON(b) }
