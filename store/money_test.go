package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		cur  string
		want string
	}{
		{2000, "EUR", "20.00 EUR"}, {5, "EUR", "0.05 EUR"}, {-150, "USD", "-1.50 USD"},
		{2000, "JPY", "2000 JPY"}, {1234, "KWD", "1.234 KWD"}, {1999, "", "19.99"},
	} {
		require.Equal(t, tc.want, FormatMoney(tc.n, tc.cur))
	}
	require.Equal(t, "10% off", Benefit{Type: BenefitPercent, Value: 10}.String())
	require.Equal(t, "5.00 EUR off", Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}.String())
	require.Equal(t, "free shipping", Benefit{Type: BenefitFreeShipping}.String())
	require.Equal(t, "a mug", Benefit{Type: BenefitCustom, Text: "a mug"}.String())
}
