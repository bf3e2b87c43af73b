package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"promo/store"
)

// decodeJSON decodes body into dst strictly: one JSON object, no unknown
// fields, each value of its field's type. Errors are invalid_request and
// name the field and what was expected. An empty body decodes as {} when
// emptyOK.
func decodeJSON(body []byte, dst any, emptyOK bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return &store.Error{Code: store.EInvalid, Message: "the request body is empty: send a JSON object"}
	}
	if req, ok := dst.(*store.RedeemRequest); ok {
		saved := *req
		if decodeRedeemFast(body, req) {
			return nil
		}
		*req = saved
	}
	return decodeStrict(body, dst)
}

// decodeStrict is decodeJSON by encoding/json alone.
func decodeStrict(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(body, dst, err)
	}
	if dec.More() {
		return &store.Error{Code: store.EInvalid, Message: "the request body holds more than one JSON value: send one object"}
	}
	return nil
}

// decodeRedeemFast decodes the tills' body, validate's and redeem's, the
// way they send it: one flat object of plain ASCII strings (no escapes)
// and a whole order_amount, under the exact field names. It reports
// false for anything else (a hold, a null, an escape, an unknown or
// differently cased name, trailing data), which decodeJSON then decodes,
// or refuses, with encoding/json: what this accepts, encoding/json decodes
// the same (FuzzDecodeRedeemFast holds it to that). On W2's body it takes
// a ninth of encoding/json's time (BenchmarkDecodeRedeem).
func decodeRedeemFast(b []byte, req *store.RedeemRequest) bool {
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipJSONSpace(b, i+1) == len(b)
	}
	for {
		name, j, ok := plainJSONString(b, i)
		if !ok {
			return false
		}
		if i = skipJSONSpace(b, j); i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipJSONSpace(b, i+1)
		var dst *string
		switch string(name) {
		case "code":
			dst = &req.Code
		case "customer_id":
			dst = &req.CustomerID
		case "order_id":
			dst = &req.OrderID
		case "currency":
			dst = &req.Currency
		case "terminal":
			dst = &req.Terminal
		case "hold_id":
			dst = &req.HoldID
		case "order_amount":
			if req.OrderAmount, j, ok = plainJSONWhole(b, i); !ok {
				return false
			}
		default:
			return false
		}
		if dst != nil {
			var v []byte
			if v, j, ok = plainJSONString(b, i); !ok {
				return false
			}
			*dst = string(v)
		}
		if i = skipJSONSpace(b, j); i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipJSONSpace(b, i+1)
		case '}':
			return skipJSONSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainJSONString reads a string at b[i] that holds only printable ASCII
// and no escape: its contents and the index after its closing quote.
func plainJSONString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, i, false
		}
	}
	return nil, i, false
}

// plainJSONWhole reads a JSON whole number of at most 18 digits at b[i]
// (so it fits an int64): 0, or a digit 1-9 and more digits. A fraction or
// exponent that follows is left for the caller to refuse.
func plainJSONWhole(b []byte, i int) (int64, int, bool) {
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return 0, i, false
	}
	if b[i] == '0' {
		return 0, i + 1, true
	}
	var n int64
	j := i
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		if j-i == 18 {
			return 0, i, false
		}
		n = n*10 + int64(b[j]-'0')
	}
	return n, j, true
}

func jsonError(body []byte, dst any, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &store.Error{Code: store.EInvalid, Message: fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &store.Error{Code: store.EInvalid, Message: "malformed JSON: the body ends too early"}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &store.Error{Code: store.EInvalid, Message: fmt.Sprintf("want a JSON %s, got %s", kindName(typ.Type), typ.Value)}
		}
		return &store.Error{Code: store.EInvalid, Field: typ.Field,
			Message: fmt.Sprintf("%s: want %s, got %s", typ.Field, kindName(typ.Type), typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if outer := failingField(body, reflect.TypeOf(dst)); outer != "" && outer != name {
			name = outer + "." + name // an unknown field inside an object
		}
		return &store.Error{Code: store.EInvalid, Field: name, Message: fmt.Sprintf("%s: unknown field; see the API reference in README.md", name)}
	}
	// A custom decoder (a time, a duration, a format) refused a value: find
	// which field, so the message can name it.
	if field := failingField(body, reflect.TypeOf(dst)); field != "" {
		return &store.Error{Code: store.EInvalid, Field: field, Message: field + ": " + err.Error()}
	}
	return &store.Error{Code: store.EInvalid, Message: "invalid JSON: " + err.Error()}
}

// failingField decodes body key by key into t's fields and returns the
// dotted name of the first field whose value does not decode.
func failingField(body []byte, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		raw, ok := obj[name]
		if !ok || name == "" || name == "-" {
			continue
		}
		if err := json.Unmarshal(raw, reflect.New(f.Type).Interface()); err != nil {
			if sub := failingField(raw, f.Type); sub != "" {
				return name + "." + sub
			}
			return name
		}
	}
	return ""
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}
