package sailor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fitbitplus/connector/lib/component"
)

// objectHeader names the object that holds a lightweight message's body.
const objectHeader = "x-ipaas-object-storage-id"

// Object storage client settings, as the official sailor's client has them.
const (
	objectRetries  = 2                // after the first attempt, on 5xx and network errors
	objectTimeout  = 10 * time.Second // one attempt
	objectMaxDelay = 15 * time.Second
)

// ObjectStorage is the platform's object storage: the bodies of lightweight
// messages, encrypted (raw AES-256-CBC, the message key and IV), behind a
// bearer token. A nil *ObjectStorage is none: references are errors.
type ObjectStorage struct {
	base, token string
	hc          *http.Client
	cipher      *Cipher
	maxBytes    int // an object larger than this is refused, unread
	sleep       func(ctx context.Context, d time.Duration) error
}

// NewObjectStorage is the client of the object storage at uri (objects at
// uri/objects); an object larger than maxBytes is refused unread.
func NewObjectStorage(uri, token string, c *Cipher, maxBytes int) *ObjectStorage {
	return &ObjectStorage{base: strings.TrimRight(uri, "/"), token: token, hc: &http.Client{}, cipher: c,
		maxBytes: maxBytes, sleep: sleepCtx}
}

var errNoObjectStorage = errors.New("the message refers to object storage, but none is configured (OBJECT_STORAGE_URI)")

// get downloads and decrypts object id; its body must be JSON. The object is
// held once: decrypted in the buffer it was read into.
func (o *ObjectStorage) get(ctx context.Context, id string) (json.RawMessage, error) {
	if o == nil {
		return nil, errNoObjectStorage
	}
	var plain []byte
	err := o.retry(ctx, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+"/objects/"+url.PathEscape(id), nil)
		if err != nil {
			return false, err
		}
		resp, err := o.do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		if err := objectStatus(resp); err != nil {
			return resp.StatusCode >= 500, err
		}
		if resp.ContentLength > int64(o.maxBytes) {
			return false, fmt.Errorf("the object is %d bytes, over the input limit of %d", resp.ContentLength, o.maxBytes)
		}
		ct, err := io.ReadAll(io.LimitReader(resp.Body, int64(o.maxBytes)+1))
		if err != nil {
			return true, err
		}
		if len(ct) > o.maxBytes {
			return false, fmt.Errorf("the object is over the input limit of %d bytes", o.maxBytes)
		}
		if plain, err = o.cipher.decryptInPlace(ct); err != nil {
			return false, err
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !json.Valid(plain) {
		return nil, errors.New("the object is not JSON")
	}
	return plain, nil
}

// put encrypts and uploads plain and returns the new object's id.
func (o *ObjectStorage) put(ctx context.Context, plain []byte, requestID string) (string, error) {
	if o == nil {
		return "", errNoObjectStorage
	}
	ct := o.cipher.Encrypt(plain)
	var id string
	err := o.retry(ctx, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base+"/objects", bytes.NewReader(ct))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("x-request-id", requestID)
		resp, err := o.do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		if err := objectStatus(resp); err != nil {
			return resp.StatusCode >= 500, err
		}
		var answer struct {
			ObjectID string `json:"objectId"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer); err != nil || answer.ObjectID == "" {
			return false, errors.New("the object storage's answer holds no objectId")
		}
		id = answer.ObjectID
		return false, nil
	})
	return id, err
}

func (o *ObjectStorage) do(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+o.token)
	resp, err := o.hc.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is known; keep the message short
	}
	return resp, err
}

// retry runs attempt, each under objectTimeout, retrying objectRetries times
// when it says so, after 100 ms·2^n plus jitter (at most objectMaxDelay).
func (o *ObjectStorage) retry(ctx context.Context, attempt func(context.Context) (retry bool, err error)) error {
	for n := 0; ; n++ {
		actx, cancel := context.WithTimeout(ctx, objectTimeout)
		again, err := attempt(actx)
		cancel()
		if err == nil || !again || n >= objectRetries || ctx.Err() != nil {
			return err
		}
		d := min(100*time.Millisecond<<n+time.Duration(rand.Int64N(int64(100*time.Millisecond))), objectMaxDelay)
		if sErr := o.sleep(ctx, d); sErr != nil {
			return err
		}
	}
}

func objectStatus(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return fmt.Errorf("object storage answered %d", resp.StatusCode)
}

// objectID is the object a message's headers refer to, or "".
func objectID(h map[string]any) string {
	s, _ := h[objectHeader].(string)
	return s
}

// Resolve replaces the body of msg and of each passthrough entry that refers
// to an object by the object's content; the reference header stays.
func (o *ObjectStorage) Resolve(ctx context.Context, msg *component.Message) error {
	if id := objectID(msg.Headers); id != "" {
		body, err := o.get(ctx, id)
		if err != nil {
			return objectGetError(id, err)
		}
		msg.Body = body
	}
	for step, raw := range msg.Passthrough {
		entry, ok, err := o.resolveEntry(ctx, raw)
		if err != nil {
			return err
		}
		if ok {
			msg.Passthrough[step] = entry
		}
	}
	return nil
}

// resolveEntry resolves one passthrough entry; ok is false when it refers
// to no object.
func (o *ObjectStorage) resolveEntry(ctx context.Context, raw json.RawMessage) (json.RawMessage, bool, error) {
	var e component.Message
	if e.UnmarshalJSON(raw) != nil {
		return nil, false, nil // not an envelope: forwarded as it came
	}
	id := objectID(e.Headers)
	if id == "" {
		return nil, false, nil
	}
	body, err := o.get(ctx, id)
	if err != nil {
		return nil, false, objectGetError(id, err)
	}
	e.Body = body
	b, err := e.MarshalJSON()
	return b, err == nil, err
}

func objectGetError(id string, err error) error {
	return fmt.Errorf("Failed to get message body with id=%s: %w", id, err) //nolint:staticcheck // the official wording
}

// lighten, when the body of out and those of the passthrough entries (but
// the step's own, added after) together exceed
// OBJECT_STORAGE_SIZE_THRESHOLD, uploads out's body and each entry's that is
// not stored yet; each is then {} with the object's id in its headers (an
// id out's headers already carried is replaced).
func (x *execution) lighten(ctx context.Context, out *component.Message, pt map[string]json.RawMessage) error {
	total := len(out.Body)
	entries := map[string]*component.Message{}
	for step, raw := range pt {
		var e component.Message
		if e.UnmarshalJSON(raw) == nil {
			entries[step] = &e
			total += len(e.Body)
		}
	}
	if total <= x.w.settings.ObjectStorageSizeThreshold {
		return nil
	}
	s := &x.w.settings
	requestID := "f:" + s.FlowID + ";s:" + s.StepID + ";m:" + out.ID
	upload := func(m *component.Message) error {
		id, err := x.w.objects.put(ctx, m.Body, requestID)
		if err != nil {
			return fmt.Errorf("Lightweight message/passthrough body upload error: %w", err) //nolint:staticcheck // the official wording
		}
		m.Headers = maps.Clone(m.Headers)
		if m.Headers == nil {
			m.Headers = map[string]any{}
		}
		m.Headers[objectHeader] = id
		m.Body = json.RawMessage("{}")
		return nil
	}
	if !emptyBody(out.Body) {
		if err := upload(out); err != nil {
			return err
		}
	}
	for step, e := range entries {
		if objectID(e.Headers) != "" {
			e.Body = json.RawMessage("{}") // already stored: the reference alone travels
		} else if err := upload(e); err != nil {
			return err
		}
		b, err := e.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode passthrough: %w", err)
		}
		pt[step] = b
	}
	return nil
}

// inlineObjects downloads and inlines the passthrough entries whose body is
// empty and refers to an object (when this step emits no lightweight
// messages, the next one may not resolve them).
func (x *execution) inlineObjects(ctx context.Context, pt map[string]json.RawMessage) error {
	for step, raw := range pt {
		var e component.Message
		if e.UnmarshalJSON(raw) != nil || objectID(e.Headers) == "" || !emptyBody(e.Body) {
			continue
		}
		entry, _, err := x.w.objects.resolveEntry(ctx, raw)
		if err != nil {
			return err
		}
		pt[step] = entry
	}
	return nil
}

func emptyBody(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) == 0 || bytes.Equal(t, []byte("{}")) || bytes.Equal(t, []byte("null"))
}
