package store

import (
	"fmt"
	"strings"
)

// minorDigits lists the ISO 4217 currencies whose minor unit is not a
// hundredth (Stripe's zero- and three-decimal currencies).
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "MGA": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
}

// FormatMoney shows an amount of minor units for people: "20.00 EUR",
// "2000 JPY", or "20.00" when the currency is not known (taken as
// hundredths).
func FormatMoney(amount int64, currency string) string {
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	sign, n := "", amount
	if n < 0 {
		sign, n = "-", -n
	}
	s := fmt.Sprintf("%s%d", sign, n)
	if digits > 0 {
		unit := int64(1)
		for range digits {
			unit *= 10
		}
		s = fmt.Sprintf("%s%d.%0*d", sign, n/unit, digits, n%unit)
	}
	return strings.TrimSpace(s + " " + currency)
}

// String says what the benefit gives, for people: "10% off",
// "5.00 EUR off", "free shipping", or a custom benefit's text.
func (b Benefit) String() string {
	switch b.Type {
	case BenefitPercent:
		return fmt.Sprintf("%d%% off", b.Value)
	case BenefitAmount:
		return FormatMoney(b.Value, b.Currency) + " off"
	case BenefitFreeShipping:
		return "free shipping"
	case BenefitCustom:
		return b.Text
	}
	return b.Type
}
