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
