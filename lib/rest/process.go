package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
)

// MaxResponseSize bounds the response body read for one request.
const MaxResponseSize = 32 << 20

// Process runs the operation for one message:
//   - the message body is validated (see the input rules in request.go); a
//     violation is returned as a *component.InputError, with no API call;
//   - the request is sent through ex.API.Client(ctx, ex.Cfg);
//   - a 2xx answer is emitted as one data message whose body is the JSON:API
//     document as returned ({} when the answer is empty);
//   - a 4xx answer is returned as *fitbitplus.APIError (the runtime emits the
//     error event); a credential that cannot get a token as
//     *fitbitplus.CredentialError;
//   - 429, 5xx and network failures that outlived the client's retries are
//     returned wrapped in component.Rebound, so the platform retries later,
//     when repeating is safe: for idempotent methods, and for writes (POST,
//     PATCH) only when the API surely did not run them (429, 503 with
//     Retry-After, no connection, no token). A write that may have been
//     applied (a 5xx, a timeout, a lost answer) is a plain error: repeating
//     it could apply it twice;
//   - a paged operation whose step sets fetchAll or split follows the pages
//     and emits one message per page or per resource (see paging.go).
func (op *Operation) Process(ctx context.Context, ex *component.Exec) error {
	input, err := ex.Msg.BodyObject()
	if err != nil {
		return err
	}
	p, err := op.prepare(input)
	if err != nil {
		return err
	}
	if ex.API == nil {
		return fmt.Errorf("%s: no API client provider", op.ID)
	}
	client, err := ex.API.Client(ctx, ex.Cfg)
	if err != nil {
		return err
	}
	if len(op.Paging) > 0 {
		opts, err := PagingFromConfig(ex.Cfg)
		if err != nil {
			return err
		}
		if opts.FetchAll || opts.Split {
			return op.processPages(ctx, ex, client, input, opts)
		}
	}
	req, err := p.request(ctx, client.BaseURL())
	if err != nil {
		return err
	}
	body, err := op.send(ctx, client, req, ex.Log)
	if err != nil {
		return err
	}
	msg, err := DataMessage(body)
	if err != nil {
		return fmt.Errorf("%s: %w", op.ID, err)
	}
	return ex.Emit.Data(ctx, msg)
}

// send sends one request and returns the body of its 2xx answer; any other
// outcome is classified as Process documents.
func (op *Operation) send(ctx context.Context, client component.APIClient, req *http.Request, log *slog.Logger) ([]byte, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, op.failure(err)
	}
	body, readErr := readBody(resp.Body, MaxResponseSize)
	_ = resp.Body.Close()
	log.DebugContext(ctx, "api call", "operation", op.ID, "method", op.Method, "status", resp.StatusCode,
		"bytes", len(body), "duration", time.Since(start))
	if readErr != nil {
		if resp.StatusCode/100 == 2 && !idempotent(op.Method) {
			return nil, fmt.Errorf("%s: the write was answered %d but its answer was lost: %w", op.ID, resp.StatusCode, readErr)
		}
		return nil, op.failure(readErr)
	}
	if resp.StatusCode/100 != 2 {
		apiErr := fitbitplus.ParseAPIError(resp.StatusCode, resp.Header, body)
		if !apiErr.Transient() {
			return nil, apiErr
		}
		// 429, and 503 with Retry-After, say the request was refused, not run.
		refused := resp.StatusCode == http.StatusTooManyRequests ||
			(resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "")
		if idempotent(op.Method) || refused {
			return nil, component.Rebound(apiErr)
		}
		return nil, fmt.Errorf("%s: the API answered %d to a write that it may have applied; "+
			"it is not repeated automatically (check, then retry the message): %w", op.ID, resp.StatusCode, apiErr)
	}
	return body, nil
}

// failure classifies an error of the HTTP exchange.
func (op *Operation) failure(err error) error {
	var ce *fitbitplus.CredentialError
	if errors.As(err, &ce) {
		return ce
	}
	if !fitbitplus.IsTransient(err) {
		return fmt.Errorf("%s: %w", op.ID, err)
	}
	if idempotent(op.Method) || fitbitplus.NotSent(err) {
		return component.Rebound(fmt.Errorf("%s: %w", op.ID, err))
	}
	return fmt.Errorf("%s: a write may have reached the API before it failed; "+
		"it is not repeated automatically (check, then retry the message): %w", op.ID, err)
}

// DataMessage makes the data message of a 2xx answer: body is the JSON:API
// document as returned (compacted), {} when empty. A body that is not JSON is
// an error.
func DataMessage(body []byte) (*component.Message, error) {
	out := json.RawMessage("{}")
	if len(bytes.TrimSpace(body)) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			return nil, fmt.Errorf("the answer is not JSON")
		}
		out = buf.Bytes()
	}
	return &component.Message{ID: uuid.NewString(), Headers: map[string]any{}, Body: out}, nil
}

// errTooLarge says the answer exceeded MaxResponseSize.
var errTooLarge = fmt.Errorf("the answer is larger than %d MiB", MaxResponseSize>>20)

// readBody reads an answer of at most limit bytes.
func readBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
