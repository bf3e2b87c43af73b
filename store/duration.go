package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// OptionalTime distinguishes a JSON field left out (Set false) from null
// (Set true, Time nil).
type OptionalTime struct {
	Set  bool
	Time *time.Time
}

// MarshalJSON writes the time, or null to clear it.
func (o OptionalTime) MarshalJSON() ([]byte, error) { return json.Marshal(o.Time) }

// UnmarshalJSON records that the field was present.
func (o *OptionalTime) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Time = nil
		return nil
	}
	var t time.Time
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("want an RFC 3339 time such as \"2027-01-31T23:59:59Z\" or null")
	}
	o.Time = &t
	return nil
}

// Duration is a time.Duration written as "48h", "90m" or "7d".
type Duration time.Duration

// ParseDuration accepts Go durations plus a whole number of days ("7d").
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days > 0 && days <= 3650 {
			return Duration(time.Duration(days) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as \"48h\", \"90m\" or \"7d\", got %q", s)
	}
	return Duration(d), nil
}

func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes the duration as a string; zero is "".
func (d Duration) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string; "" and null mean none.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"48h\"")
	}
	if s == nil || *s == "" {
		*d = 0
		return nil
	}
	v, err := ParseDuration(*s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
