package monitor

import (
	"errors"
	"fmt"
)

// ErrInput is wrapped by every error about bad input to a statistic, a
// profile or a monitor: an empty sample, a NaN, a negative count, columns
// that do not match.
var ErrInput = errors.New("monitor: bad input")

// inputErr returns an error wrapping ErrInput.
func inputErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInput, fmt.Sprintf(format, args...))
}

// Kind is how a column is compared: as numbers or as categories.
type Kind int

const (
	// Numeric columns hold integers or floating-point numbers.
	Numeric Kind = iota + 1
	// Categorical columns hold strings, booleans, or numbers named in
	// ProfileOptions.Categorical.
	Categorical
)

// String returns "numeric" or "categorical".
func (k Kind) String() string {
	switch k {
	case Numeric:
		return "numeric"
	case Categorical:
		return "categorical"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) {
	if k != Numeric && k != Categorical {
		return nil, fmt.Errorf("monitor: unknown kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads "numeric" or "categorical".
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "numeric":
		*k = Numeric
	case "categorical":
		*k = Categorical
	default:
		return inputErr("unknown column kind %q (want numeric or categorical)", b)
	}
	return nil
}
