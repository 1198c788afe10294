package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultObjectToken is the bearer token `connector sandbox --object-storage`
// accepts unless told another.
const DefaultObjectToken = "sandbox-object-token"

// ObjectTTL is how long the platform's object storage keeps an object.
const ObjectTTL = 900 * time.Second

// maxObject bounds an uploaded object.
const maxObject = 64 << 20

// ObjectStore is a stand-in for the platform's object storage, where
// lightweight messages keep their bodies: POST /objects stores the request
// body and answers {"objectId"}, GET /objects/{id} returns it, both behind
// a bearer token; objects expire after ObjectTTL. It stores bytes as they
// come (the sailors upload ciphertext).
type ObjectStore struct {
	token string
	now   func() time.Time

	mu      sync.Mutex
	objects map[string]storedObject
	fail    []int // statuses for the next requests, in turn
	gets    int
	puts    int
}

type storedObject struct {
	data    []byte
	expires time.Time
}

// NewObjectStore makes a store that accepts the bearer token. now is the
// clock (nil: time.Now).
func NewObjectStore(token string, now func() time.Time) *ObjectStore {
	if now == nil {
		now = time.Now
	}
	return &ObjectStore{token: token, now: now, objects: map[string]storedObject{}}
}

// FailNext makes the next requests answer these statuses, in turn.
func (o *ObjectStore) FailNext(statuses ...int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fail = append(o.fail, statuses...)
}

// Put stores data and returns its id (tests that prepare inputs).
func (o *ObjectStore) Put(data []byte) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[id] = storedObject{data: append([]byte(nil), data...), expires: o.now().Add(ObjectTTL)}
	return id
}

// Get returns a stored object, if it has not expired.
func (o *ObjectStore) Get(id string) ([]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj, ok := o.objects[id]
	if !ok || !o.now().Before(obj.expires) {
		delete(o.objects, id)
		return nil, false
	}
	return obj.data, true
}

// Counts are the GET and POST requests served.
func (o *ObjectStore) Counts() (gets, puts int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets, o.puts
}

// ServeHTTP serves /objects and /objects/{id}.
func (o *ObjectStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+o.token {
		http.Error(w, `{"error":"invalid token"}`, http.StatusUnauthorized)
		return
	}
	o.mu.Lock()
	var status int
	if len(o.fail) > 0 {
		status, o.fail = o.fail[0], o.fail[1:]
	}
	o.mu.Unlock()
	if status != 0 {
		http.Error(w, `{"error":"injected"}`, status)
		return
	}
	id, hasID := strings.CutPrefix(r.URL.Path, "/objects/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/objects":
		data, err := io.ReadAll(io.LimitReader(r.Body, maxObject+1))
		if err != nil || len(data) > maxObject {
			http.Error(w, `{"error":"object too large"}`, http.StatusRequestEntityTooLarge)
			return
		}
		id := o.Put(data)
		o.mu.Lock()
		o.puts++
		o.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"objectId": id})
	case r.Method == http.MethodGet && hasID && id != "":
		o.mu.Lock()
		o.gets++
		o.mu.Unlock()
		data, ok := o.Get(id)
		if !ok {
			http.Error(w, `{"error":"object not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
	default:
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
	}
}
