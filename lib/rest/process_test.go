package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/fitbitplus/connector/lib/component"
	"github.com/fitbitplus/connector/lib/fitbitplus"
	"github.com/fitbitplus/connector/lib/fitbitplus/fitbitplustest"
)

const patientDoc = `{"data":{"type":"patient","id":"p1","attributes":{"first_name":"Ada"}},"meta":{"req_id":"r1"}}`

type world struct {
	srv   *fitbitplustest.Server
	calls atomic.Int32
	rec   *recorder
	ex    *component.Exec
}

func newWorld(t *testing.T, api http.HandlerFunc) *world {
	t.Helper()
	w := &world{srv: fitbitplustest.NewServer("id", "secret"), rec: &recorder{}}
	t.Cleanup(w.srv.Close)
	w.srv.API = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calls.Add(1)
		api(rw, r)
	})
	noSleep := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	clients := fitbitplus.NewClients(fitbitplus.Defaults{ClientID: "id", ClientSecret: "secret"}, nil,
		fitbitplus.WithSleep(noSleep))
	w.ex = &component.Exec{
		Cfg:  component.Config{"server": fitbitplus.CustomServer, "otherServer": w.srv.BaseURL()},
		Emit: w.rec,
		API:  clients,
	}
	return w
}

func (w *world) run(op *Operation, body string) error {
	w.ex.Msg = &component.Message{Body: json.RawMessage(body)}
	return op.Process(context.Background(), w.ex)
}

func TestProcessEmitsDocument(t *testing.T) {
	var gotPath, gotAuth string
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		rw.Header().Set("Content-Type", "application/vnd.api+json")
		_, _ = io.WriteString(rw, patientDoc+"\n")
	})
	if err := w.run(fetchPatient, `{"id":"p 1"}`); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/pub/patient/p%201" || gotAuth != "Bearer access-1" {
		t.Errorf("path %q auth %q", gotPath, gotAuth)
	}
	if len(w.rec.data) != 1 || string(w.rec.data[0].Body) != patientDoc || w.rec.data[0].ID == "" {
		t.Fatalf("emitted %+v", w.rec.data)
	}
}

// TestProcessCompactsIndentedAnswer: an answer with whitespace between its
// tokens is emitted compact, as the envelope carries it.
func TestProcessCompactsIndentedAnswer(t *testing.T) {
	var indented bytes.Buffer
	if err := json.Indent(&indented, []byte(patientDoc), "", "  "); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { _, _ = rw.Write(indented.Bytes()) })
	if err := w.run(fetchPatient, `{"id":"p1"}`); err != nil {
		t.Fatal(err)
	}
	if len(w.rec.data) != 1 || string(w.rec.data[0].Body) != patientDoc {
		t.Fatalf("emitted %+v", w.rec.data)
	}
}

func TestProcessEmptyAnswerIsEmptyObject(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusOK) })
	if err := w.run(deleteCalendarEvent, `{"id":"e1"}`); err != nil {
		t.Fatal(err)
	}
	if len(w.rec.data) != 1 || string(w.rec.data[0].Body) != "{}" {
		t.Fatalf("emitted %+v", w.rec.data)
	}
}

func TestProcessInputErrorMakesNoCall(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {})
	err := w.run(fetchPatients, `{"page":{"number":1,"limit":10}}`)
	if inputField(err) != "page" {
		t.Fatalf("err %v", err)
	}
	if err := w.run(fetchPatient, `[1]`); inputField(err) != "" {
		t.Fatalf("non-object body: %v", err)
	}
	if w.calls.Load() != 0 || len(w.srv.Grants()) != 0 || len(w.rec.data) != 0 {
		t.Errorf("calls %d, exchanges %v, emitted %d", w.calls.Load(), w.srv.Grants(), len(w.rec.data))
	}
}

func TestProcessMapsErrorDocument(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/vnd.api+json")
		rw.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(rw, `{"errors":[{"status":"409","code":"InvalidBodyParameter","detail":"first_name is required",
			"source":{"pointer":"/data/attributes/first_name"}}],"meta":{"req_id":"r-9"}}`)
	})
	err := w.run(createPatient, `{"requestBody":{"data":{"type":"patient"}}}`)
	var apiErr *fitbitplus.APIError
	if !errors.As(err, &apiErr) || component.IsRebound(err) {
		t.Fatalf("err %T %v", err, err)
	}
	if apiErr.Status != 409 || apiErr.ReqID != "r-9" || apiErr.Code() != "InvalidBodyParameter" ||
		apiErr.Errors[0].Source.Pointer != "/data/attributes/first_name" {
		t.Errorf("got %+v", apiErr)
	}
	if len(w.rec.data) != 0 || w.calls.Load() != 1 {
		t.Errorf("emitted %d, calls %d", len(w.rec.data), w.calls.Load())
	}
}

func TestProcessReboundsAfterBoundedRetries(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusServiceUnavailable) })
	err := w.run(fetchPatient, `{"id":"p1"}`)
	var apiErr *fitbitplus.APIError
	if !component.IsRebound(err) || !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("err %v, want a rebound 503", err)
	}
	if w.calls.Load() != 4 {
		t.Errorf("calls %d, want 4 (3 retries)", w.calls.Load())
	}
}

func TestProcessNetworkFailureRebounds(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {})
	w.srv.Close()
	err := w.run(fetchPatient, `{"id":"p1"}`)
	if !component.IsRebound(err) {
		t.Fatalf("err %v, want rebound", err)
	}
}

func TestProcessInvalidCredential(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {})
	w.ex.Cfg["clientSecret"] = "hunter2-xyz"
	err := w.run(fetchPatient, `{"id":"p1"}`)
	var ce *fitbitplus.CredentialError
	if !errors.As(err, &ce) || component.IsRebound(err) || ce.ErrorName() != "InvalidCredential" {
		t.Fatalf("err %T %v", err, err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("secret in %q", err)
	}
	// A malformed credential field is reported before any call.
	w.ex.Cfg["otherServer"] = "not a url"
	if err := w.run(fetchPatient, `{"id":"p1"}`); !errors.As(err, &ce) || ce.Field != "otherServer" {
		t.Fatalf("err %v", err)
	}
}

func TestProcessUnsecuredOperationSendsNoToken(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) {})
	err := w.run(createToken, `{"requestBody":{"data":{"type":"token","attributes":{
		"grant_type":"client_credentials","client_id":"id","client_secret":"secret"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	// The only exchange is the one createToken made: the client fetched no token.
	if g := w.srv.Grants(); !slices.Equal(g, []string{"client_credentials"}) {
		t.Errorf("grants %v", g)
	}
	if len(w.rec.data) != 1 || !strings.Contains(string(w.rec.data[0].Body), `"access_token":"access-1"`) {
		t.Errorf("emitted %+v", w.rec.data)
	}
}

func TestProcessNonJSONAnswer(t *testing.T) {
	w := newWorld(t, func(rw http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(rw, "<html>") })
	if err := w.run(fetchPatient, `{"id":"p1"}`); err == nil || component.IsRebound(err) || len(w.rec.data) != 0 {
		t.Fatalf("err %v", err)
	}
}

// stubAPI answers every request with resp.
type stubAPI struct {
	resp func(*http.Request) *http.Response
}

func (s stubAPI) Client(context.Context, component.Config) (component.APIClient, error) {
	return s, nil
}
func (s stubAPI) BaseURL() string                            { return "http://stub" }
func (s stubAPI) Do(r *http.Request) (*http.Response, error) { return s.resp(r), nil }

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
func (failingBody) Close() error             { return nil }

func TestProcessLostAnswerOfWriteIsNotRebounded(t *testing.T) {
	api := stubAPI{resp: func(*http.Request) *http.Response {
		return &http.Response{StatusCode: 201, Header: http.Header{}, Body: failingBody{}}
	}}
	ex := &component.Exec{Emit: &recorder{}, API: api}
	ex.Msg = &component.Message{Body: json.RawMessage(`{"requestBody":{"data":{"type":"patient"}}}`)}
	if err := createPatient.Process(context.Background(), ex); err == nil || component.IsRebound(err) {
		t.Fatalf("POST: err %v, want a plain error", err)
	}
	ex.Msg = &component.Message{Body: json.RawMessage(`{"id":"p1"}`)}
	if err := fetchPatient.Process(context.Background(), ex); !component.IsRebound(err) {
		t.Fatalf("GET: err %v, want rebound", err)
	}
}

func TestReadBodyLimit(t *testing.T) {
	if _, err := readBody(strings.NewReader("12345"), 4); !errors.Is(err, errTooLarge) {
		t.Errorf("5 bytes of at most 4: err %v", err)
	}
	if b, err := readBody(strings.NewReader("1234"), 4); err != nil || string(b) != "1234" {
		t.Errorf("b %q err %v", b, err)
	}
	if !strings.Contains(errTooLarge.Error(), "32 MiB") {
		t.Errorf("message %q", errTooLarge)
	}
	// A body that fails is an error, not an empty answer.
	if b, err := readBody(iotest.ErrReader(io.ErrUnexpectedEOF), 4); err == nil {
		t.Errorf("failing body read as %q", b)
	}
}

// memTransport answers the token exchange and GET /pub/patient/{id} in memory.
type memTransport struct{ patient []byte }

var tokenAnswer = []byte(`{"data":{"type":"token","id":"t1","attributes":{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":3600}}}`)

func (m memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	body, status := m.patient, http.StatusOK
	if r.URL.Path == "/pub/oauth/token" {
		body, status = tokenAnswer, http.StatusCreated
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/vnd.api+json"}},
		Body: io.NopCloser(strings.NewReader(string(body))), ContentLength: int64(len(body)), Request: r}, nil
}

type discard struct{ *recorder }

func (discard) Data(context.Context, *component.Message) error { return nil }

func BenchmarkProcessFetchPatient(b *testing.B) {
	var attrs strings.Builder
	for i := range 40 {
		fmt.Fprintf(&attrs, `"field_%d":"value %d",`, i, i)
	}
	doc := []byte(`{"data":{"type":"patient","id":"p1","attributes":{` + attrs.String() +
		`"first_name":"Ada"}},"meta":{"req_id":"r1"}}`)
	clients := fitbitplus.NewClients(fitbitplus.Defaults{ClientID: "id", ClientSecret: "secret"}, memTransport{patient: doc})
	ex := &component.Exec{
		Msg:  &component.Message{Body: json.RawMessage(`{"id":"p1"}`)},
		Cfg:  component.Config{"server": "http://api.test/pub"},
		Emit: discard{&recorder{}},
		API:  clients,
	}
	ctx := context.Background()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := fetchPatient.Process(ctx, ex); err != nil {
			b.Fatal(err)
		}
	}
}

// A write is rebounded (the platform sends it again later) only when the API
// surely did not run it; otherwise repeating could apply it twice.
func TestProcessReboundsWritesOnlyWhenSurelyNotApplied(t *testing.T) {
	body := `{"requestBody":{"data":{"type":"patient"}}}`
	answer := func(status int, retryAfter string) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			if retryAfter != "" {
				rw.Header().Set("Retry-After", retryAfter)
			}
			rw.WriteHeader(status)
		}
	}
	for _, tc := range []struct {
		name    string
		op      *Operation
		api     http.HandlerFunc
		rebound bool
	}{
		{"POST 500", createPatient, answer(500, ""), false},
		{"POST 502", createPatient, answer(502, ""), false},
		{"POST 429", createPatient, answer(429, "0"), true},
		{"POST 503 with Retry-After", createPatient, answer(503, "0"), true},
		{"GET 500", fetchPatient, answer(500, ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.api)
			in := body
			if tc.op == fetchPatient {
				in = `{"id":"p1"}`
			}
			err := w.run(tc.op, in)
			if err == nil || component.IsRebound(err) != tc.rebound {
				t.Fatalf("err %v, want rebound=%v", err, tc.rebound)
			}
			var apiErr *fitbitplus.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("the API's error must stay inspectable: %v", err)
			}
			if !tc.rebound && !strings.Contains(err.Error(), "may have applied") {
				t.Fatalf("the error must say the write may have been applied: %v", err)
			}
		})
	}

	t.Run("POST, no connection", func(t *testing.T) {
		w := newWorld(t, func(http.ResponseWriter, *http.Request) {})
		w.srv.Close()
		if err := w.run(createPatient, body); !component.IsRebound(err) {
			t.Fatalf("err %v, want rebound: the request never left", err)
		}
	})
	t.Run("POST, token endpoint down", func(t *testing.T) {
		w := newWorld(t, func(http.ResponseWriter, *http.Request) {})
		w.srv.TokenHook = func() { panic(http.ErrAbortHandler) }
		err := w.run(createPatient, body)
		if !component.IsRebound(err) || w.calls.Load() != 0 {
			t.Fatalf("err %v after %d calls, want rebound and no call", err, w.calls.Load())
		}
	})
}
