package fitbitplus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// ErrorObject is one entry of a JSON:API error document.
type ErrorObject struct {
	Status string       `json:"status,omitempty"`
	Code   string       `json:"code,omitempty"`
	Title  string       `json:"title,omitempty"`
	Detail string       `json:"detail,omitempty"`
	Source *ErrorSource `json:"source,omitempty"`
}

// ErrorSource points at the part of the request an error is about.
type ErrorSource struct {
	Parameter string `json:"parameter,omitempty"`
	Pointer   string `json:"pointer,omitempty"`
}

// UnmarshalJSON accepts a status written as a number as well as a string.
func (o *ErrorObject) UnmarshalJSON(b []byte) error {
	var aux struct {
		Status any          `json:"status"`
		Code   any          `json:"code"`
		Title  string       `json:"title"`
		Detail string       `json:"detail"`
		Source *ErrorSource `json:"source"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*o = ErrorObject{Status: scalarString(aux.Status), Code: scalarString(aux.Code),
		Title: aux.Title, Detail: aux.Detail, Source: aux.Source}
	return nil
}

func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return ""
	}
}

// APIError is a non-2xx answer of the Fitbit Plus API. Errors holds the
// entries of the JSON:API error document; it is empty when the body was not
// one (then only the status and content type are kept, never the body).
type APIError struct {
	Status      int
	ContentType string
	Errors      []ErrorObject
	ReqID       string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fitbit plus api: %d %s", e.Status, http.StatusText(e.Status))
	for i, o := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(o.describe())
	}
	if len(e.Errors) == 0 && e.ContentType != "" {
		fmt.Fprintf(&b, " (%s body)", e.ContentType)
	}
	if e.ReqID != "" {
		fmt.Fprintf(&b, " (req_id %s)", e.ReqID)
	}
	return b.String()
}

func (o ErrorObject) describe() string {
	var parts []string
	if o.Code != "" {
		parts = append(parts, o.Code)
	}
	switch {
	case o.Detail != "":
		parts = append(parts, o.Detail)
	case o.Title != "":
		parts = append(parts, o.Title)
	}
	if o.Source != nil {
		switch {
		case o.Source.Parameter != "":
			parts = append(parts, "(parameter "+o.Source.Parameter+")")
		case o.Source.Pointer != "":
			parts = append(parts, "(at "+o.Source.Pointer+")")
		}
	}
	return strings.Join(parts, " ")
}

// ErrorName implements component.DescribedError.
func (e *APIError) ErrorName() string { return "FitbitPlusAPIError" }

// ErrorFields implements component.DescribedError: status, errors, req_id.
func (e *APIError) ErrorFields() map[string]any {
	errs := e.Errors
	if errs == nil {
		errs = []ErrorObject{}
	}
	f := map[string]any{"status": e.Status, "errors": errs}
	if e.ReqID != "" {
		f["req_id"] = e.ReqID
	}
	return f
}

// LogFields implements component.LogFielder: the status, the codes and
// sources of the entries and the request id; never their titles or details,
// which may quote patient data.
func (e *APIError) LogFields() []any {
	var codes, sources []string
	for _, o := range e.Errors {
		codes = append(codes, o.Code)
		if o.Source != nil {
			sources = append(sources, o.Source.Pointer+o.Source.Parameter)
		}
	}
	f := []any{"status", e.Status, "codes", codes}
	if len(sources) > 0 {
		f = append(f, "sources", sources)
	}
	if e.ReqID != "" {
		f = append(f, "req_id", e.ReqID)
	}
	return f
}

// Code returns the code of the first error entry, or "".
func (e *APIError) Code() string {
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// Transient tells whether repeating the request later may succeed (429, 5xx).
func (e *APIError) Transient() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// ParseAPIError builds the APIError of a non-2xx response from its status,
// headers and (already read) body. It never fails: a body that is not a
// JSON:API error document leaves Errors empty.
func ParseAPIError(status int, header http.Header, body []byte) *APIError {
	e := &APIError{Status: status}
	if ct := header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			e.ContentType = mt
		}
	}
	var doc struct {
		Errors json.RawMessage `json:"errors"`
		Meta   struct {
			ReqID any `json:"req_id"`
		} `json:"meta"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return e
	}
	e.ReqID = scalarString(doc.Meta.ReqID)
	if len(doc.Errors) == 0 {
		return e
	}
	var list []ErrorObject
	if json.Unmarshal(doc.Errors, &list) == nil {
		e.Errors = list
		return e
	}
	// The upstream schema types errors as one object; tolerate it.
	var one ErrorObject
	if json.Unmarshal(doc.Errors, &one) == nil {
		e.Errors = []ErrorObject{one}
	}
	return e
}

// readAPIError reads (a bounded part of) resp's body, closes it and returns
// the APIError.
func readAPIError(resp *http.Response) *APIError {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return ParseAPIError(resp.StatusCode, resp.Header, body)
}

// CredentialError says a credential cannot be used: a field is missing or
// malformed (Field set), or the token endpoint refused it (Status, Code and
// Detail from the API's error document). It never holds the secret.
type CredentialError struct {
	Field    string // credential field at fault, when known
	ClientID string
	BaseURL  string
	Reason   string
	Status   int    // status of the token endpoint's answer, 0 when none
	Code     string // API error code, e.g. InvalidCredentials
	Detail   string
	ReqID    string
	Err      error // the underlying *APIError, when any
}

func (e *CredentialError) Error() string {
	var b strings.Builder
	b.WriteString("invalid credential")
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (%d", e.Status)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Detail != "" {
			b.WriteString(": " + e.Detail)
		}
		b.WriteString(")")
	}
	if e.ReqID != "" {
		fmt.Fprintf(&b, " (req_id %s)", e.ReqID)
	}
	return b.String()
}

func (e *CredentialError) Unwrap() error { return e.Err }

// ErrorName implements component.DescribedError.
func (e *CredentialError) ErrorName() string { return "InvalidCredential" }

// ErrorFields implements component.DescribedError.
func (e *CredentialError) ErrorFields() map[string]any {
	f := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	put("field", e.Field)
	put("client_id", e.ClientID)
	put("base_url", e.BaseURL)
	put("code", e.Code)
	put("detail", e.Detail)
	put("req_id", e.ReqID)
	if e.Status != 0 {
		f["status"] = e.Status
	}
	return f
}

// LogFields implements component.LogFielder: the field, client id, status,
// code and request id; not the API's detail.
func (e *CredentialError) LogFields() []any {
	f := []any{"field", e.Field, "client_id", e.ClientID}
	if e.Status != 0 {
		f = append(f, "status", e.Status, "code", e.Code)
	}
	if e.ReqID != "" {
		f = append(f, "req_id", e.ReqID)
	}
	return f
}

// credentialErrorFrom turns the token endpoint's refusal into a CredentialError.
func credentialErrorFrom(c Credential, apiErr *APIError) *CredentialError {
	ce := &CredentialError{ClientID: c.ClientID, BaseURL: c.BaseURL, Status: apiErr.Status,
		ReqID: apiErr.ReqID, Err: apiErr}
	if len(apiErr.Errors) > 0 {
		ce.Code = apiErr.Errors[0].Code
		ce.Detail = firstNonEmpty(apiErr.Errors[0].Detail, apiErr.Errors[0].Title)
	}
	switch {
	case apiErr.Status == http.StatusNotFound:
		ce.Field, ce.Reason = FieldServer, "no token endpoint at "+c.BaseURL+"/oauth/token; check the server URL"
	case ce.Code == "InvalidGrantType":
		ce.Reason = "the token endpoint refused the grant type for client id " + c.ClientID
	default:
		ce.Reason = "the token endpoint refused client id " + c.ClientID + "; check the client id and secret"
	}
	return ce
}

// IsTransient tells whether err may go away by itself, so that the message
// should be retried later (rebound): a 429 or 5xx APIError, a timeout, a
// connection failure or an exceeded deadline. A CredentialError, another
// APIError (4xx), a cancelled context and anything unknown are permanent.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var ce *CredentialError
	if errors.As(err, &ce) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Transient()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return IsTransient(ue.Err)
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return !dns.IsNotFound
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}
