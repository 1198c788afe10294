package fitbitplus

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDefaultTransportKeepsConnectionsOfPrefetch64 sends two waves of 64
// concurrent requests (a worker at prefetch 64): the second wave reuses the
// connections of the first instead of dialing again.
func TestDefaultTransportKeepsConnectionsOfPrefetch64(t *testing.T) {
	var dials atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond)
		_, _ = w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: DefaultTransport()}
	defer client.CloseIdleConnections()
	wave := func() {
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				drainClose(resp)
			})
		}
		wg.Wait()
	}
	wave()
	first := dials.Load()
	wave()
	if again := dials.Load() - first; again > 4 {
		t.Errorf("second wave of 64 requests dialed %d new connections (first wave %d); want them reused", again, first)
	}
}
