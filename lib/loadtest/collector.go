package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/fitbitplus/connector/lib/sailor"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Record is what became of one input: its data and error events (matched by
// their parentMessageId header) and its dead-lettered copies (matched by the
// messageId header the input keeps).
type Record struct {
	Data, Errors, Dead int
	FirstAt            time.Time // first data or error event
	SettledAt          time.Time // first outcome of any kind, dead letters included
	// FirstEnd is the "end" header of the first data or error event: when
	// the worker published it.
	FirstEnd      time.Time
	ErrorMessages []string // the decrypted error events' messages
	// Containers are the containerId headers of the data and error events,
	// in the order they came: which worker published each.
	Containers []string
}

// Outcome names a settled record: "data", "error", "dead", or "" while none.
func (r Record) Outcome() string {
	switch {
	case r.Data > 0:
		return "data"
	case r.Errors > 0:
		return "error"
	case r.Dead > 0:
		return "dead"
	}
	return ""
}

// Collector consumes a topology's data, error and dead-letter queues,
// decrypts every output and matches it to its input. It reconnects when the
// broker goes away, and ignores the broker's redeliveries of outputs it has
// already counted (same output messageId), so that a count above one is a
// duplicate made by the worker.
type Collector struct {
	top    *Topology
	cipher *sailor.Cipher
	keep   bool
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	records     map[string]*Record
	outputs     map[string]bool // output messageIds seen
	bodies      [][]byte        // decrypted data outputs, when kept
	rawErrors   [][]byte        // error payloads as published, when kept
	headers     [][]byte        // every consumed message's headers as JSON, when kept
	undecodable int
	unmatched   int
	reconnects  int
	wake        chan struct{}
	settled     int
}

// CollectorOptions: KeepOutputs keeps every decrypted data output and raw
// error payload (for the security checks).
type CollectorOptions struct{ KeepOutputs bool }

// StartCollector starts consuming. Stop ends it.
func StartCollector(top *Topology, c *sailor.Cipher, o CollectorOptions) (*Collector, error) {
	ctx, cancel := context.WithCancel(context.Background())
	col := &Collector{top: top, cipher: c, keep: o.KeepOutputs, cancel: cancel, done: make(chan struct{}),
		records: map[string]*Record{}, outputs: map[string]bool{}, wake: make(chan struct{})}
	conn, ended, err := col.connect()
	if err != nil {
		cancel()
		return nil, err
	}
	go col.loop(ctx, conn, ended)
	return col, nil
}

// Stop ends consuming (bounded).
func (c *Collector) Stop() {
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
}

// connect consumes the three queues, each recorded and acked on its own
// consumer goroutine (no hand-off: a wake-up per output costs CPU that the
// measured worker and broker share). ended is closed when all three
// consumers have stopped (connection lost or closed).
func (c *Collector) connect() (conn *amqp.Connection, ended <-chan struct{}, err error) {
	conn, err = amqp.Dial(c.top.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("collector: dial: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Qos(2000, 0, false)
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("collector: channel: %w", err)
	}
	var wg sync.WaitGroup
	for _, q := range []string{c.top.DataQueue, c.top.ErrorQueue, c.top.DeadQueue} {
		ds, err := ch.Consume(q, "", false, false, false, false, nil)
		if err != nil {
			_ = conn.Close()
			wg.Wait()
			return nil, nil, fmt.Errorf("collector: consume %s: %w", q, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range ds {
				c.record(q, d)
				_ = d.Ack(false)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return conn, done, nil
}

func (c *Collector) loop(ctx context.Context, conn *amqp.Connection, ended <-chan struct{}) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
		case <-ended:
		}
		_ = conn.Close()
		if ctx.Err() != nil {
			<-ended
			return
		}
		// The broker went away: reconnect until it is back or we are stopped.
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
			var err error
			if conn, ended, err = c.connect(); err == nil {
				c.mu.Lock()
				c.reconnects++
				c.mu.Unlock()
				break
			}
		}
	}
}

func header(h amqp.Table, k string) string {
	s, _ := h[k].(string)
	return s
}

func (c *Collector) record(queue string, d amqp.Delivery) {
	now := time.Now()
	if c.keep {
		h, _ := json.Marshal(d.Headers)
		c.mu.Lock()
		c.headers = append(c.headers, h)
		c.mu.Unlock()
	}
	var input, errMsg string
	var body []byte
	switch queue {
	case c.top.DeadQueue:
		input = header(d.Headers, "messageId")
	default:
		input = header(d.Headers, "parentMessageId")
		out := header(d.Headers, "messageId")
		c.mu.Lock()
		seen := out != "" && c.outputs[out]
		c.outputs[out] = true
		c.mu.Unlock()
		if seen {
			return // the broker redelivered an output we counted
		}
		var err error
		if queue == c.top.DataQueue {
			body, err = c.decodeData(d)
		} else {
			errMsg, err = c.decodeError(d.Body)
			body = d.Body
		}
		if err != nil {
			c.mu.Lock()
			c.undecodable++
			c.mu.Unlock()
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if input == "" {
		c.unmatched++
		return
	}
	r := c.records[input]
	if r == nil {
		r = &Record{}
		c.records[input] = r
	}
	if r.Outcome() == "" {
		c.settled++
		r.SettledAt = now
	}
	switch queue {
	case c.top.DeadQueue:
		if d.Redelivered && r.Dead > 0 {
			return
		}
		r.Dead++
	case c.top.DataQueue:
		r.Data++
		if c.keep {
			c.bodies = append(c.bodies, body)
		}
	default:
		r.Errors++
		r.ErrorMessages = append(r.ErrorMessages, errMsg)
		if c.keep {
			c.rawErrors = append(c.rawErrors, body)
		}
	}
	if queue != c.top.DeadQueue {
		r.Containers = append(r.Containers, header(d.Headers, "containerId"))
	}
	if queue != c.top.DeadQueue && r.FirstAt.IsZero() {
		r.FirstAt = now
		if ms, ok := d.Headers["end"].(int64); ok {
			r.FirstEnd = time.UnixMilli(ms)
		}
	}
	close(c.wake)
	c.wake = make(chan struct{})
}

func (c *Collector) decodeData(d amqp.Delivery) ([]byte, error) {
	v := 1
	switch n := d.Headers["protocolVersion"].(type) {
	case int64:
		v = int(n)
	case int32:
		v = int(n)
	case int8:
		v = int(n)
	}
	plain, err := c.cipher.DecryptMessage(d.Body, v)
	if err != nil {
		return nil, err
	}
	if !json.Valid(plain) {
		return nil, fmt.Errorf("data output is not JSON")
	}
	return plain, nil
}

func (c *Collector) decodeError(body []byte) (string, error) {
	var p struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", err
	}
	plain, err := c.cipher.DecryptMessage([]byte(p.Error), 1)
	if err != nil {
		return "", err
	}
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(plain, &e); err != nil {
		return "", err
	}
	return e.Name + ": " + e.Message, nil
}

// Record returns what became of input id.
func (c *Collector) Record(id string) Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.records[id]; r != nil {
		out := *r
		out.ErrorMessages = append([]string(nil), r.ErrorMessages...)
		out.Containers = append([]string(nil), r.Containers...)
		return out
	}
	return Record{}
}

// Settled is the number of inputs with at least one outcome.
func (c *Collector) Settled() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settled
}

// Changed is closed at the next recorded outcome.
func (c *Collector) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wake
}

// WaitSettled waits until every id has an outcome for which done reports
// true (nil: any outcome), or ctx ends (an error naming how many are missing).
// It polls every settleScanEvery and rescans only the ids still missing, and
// only when they could all have settled (done == nil: each one settling adds
// one to the settled count) or something was recorded (done != nil), so that
// waiting for a drain of N outputs costs O(N) here, not O(N²): the harness
// shares the cores with the worker and the broker it measures.
func (c *Collector) WaitSettled(ctx context.Context, ids []string, done func(id string, r Record) bool) error {
	pending := append([]string(nil), ids...)
	for {
		wake := c.Changed()
		base := c.Settled()
		if pending = c.unsettled(pending, done); len(pending) == 0 {
			return nil
		}
		// Poll rather than wake at every output: a goroutine wake-up per
		// message is itself a measurable cost on these two cores.
		for {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%d of %d inputs not settled: %w", len(pending), len(ids), errTimeout)
			case <-time.After(settleScanEvery):
			}
			if done == nil && c.Settled()-base >= len(pending) || done != nil && closed(wake) {
				break
			}
		}
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// settleScanEvery spaces WaitSettled's rescans while outputs stream in.
const settleScanEvery = 5 * time.Millisecond

// unsettled keeps, in place, the ids without an outcome that done accepts.
func (c *Collector) unsettled(ids []string, done func(id string, r Record) bool) []string {
	out := ids[:0]
	for _, id := range ids {
		r := c.Record(id)
		if r.Outcome() == "" || (done != nil && !done(id, r)) {
			out = append(out, id)
		}
	}
	return out
}

// Outputs returns the decrypted data outputs and raw error payloads kept.
func (c *Collector) Outputs() (data, errs [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.bodies...), append([][]byte(nil), c.rawErrors...)
}

// Headers returns the headers of every message consumed (outputs and dead
// letters) as JSON, when kept.
func (c *Collector) Headers() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.headers...)
}

// Anomalies counts outputs that could not be decrypted or matched to an
// input, and the collector's reconnects.
func (c *Collector) Anomalies() (undecodable, unmatched, reconnects int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.undecodable, c.unmatched, c.reconnects
}

// Tally summarises the records of ids.
type Tally struct {
	Inputs       int            `json:"inputs"`
	OK           int            `json:"ok"`           // inputs with one data output or more
	Errors       int            `json:"errors"`       // inputs with error events and no data
	Lost         int            `json:"lost"`         // inputs with no outcome at all
	Duplicates   int            `json:"duplicates"`   // outputs beyond the first per input
	DeadLettered int            `json:"deadLettered"` // inputs dead-lettered (rejected)
	Outcomes     map[string]int `json:"-"`
}

// Tally counts the outcomes of ids.
func (c *Collector) Tally(ids []string) Tally {
	t := Tally{Inputs: len(ids), Outcomes: map[string]int{}}
	for _, id := range ids {
		r := c.Record(id)
		t.Outcomes[r.Outcome()]++
		switch r.Outcome() {
		case "data":
			t.OK++
		case "error":
			t.Errors++
		case "":
			t.Lost++
		}
		if n := r.Data + r.Errors; n > 1 {
			t.Duplicates += n - 1
		}
		if r.Dead > 0 {
			t.DeadLettered++
		}
	}
	return t
}
