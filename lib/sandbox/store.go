package sandbox

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// ref names one related resource.
type ref struct{ Type, ID string }

// resource is one stored resource. Relationship values are ref (to-one) or
// []ref (to-many). Every field is read and written under Sandbox.mu.
type resource struct {
	Type    string
	ID      string
	Attrs   map[string]any
	Rels    map[string]any
	Created time.Time
	Updated time.Time
	Org     string // the organization the resource belongs to (not answered)
	Owner   string // id the table's owner index files it under ("" for none)
	cache   atomic.Pointer[encodedCache]
}

// encodedCache is a resource's JSON as of one store generation.
type encodedCache struct {
	gen uint64
	b   []byte
}

// key orders resources: by creation time, then id. Keys never change, so a
// cursor (the key of the last item answered) stays valid while items are
// inserted or updated.
type key struct {
	Created int64
	ID      string
}

func (r *resource) key() key { return key{r.Created.UnixNano(), r.ID} }

func compareKeys(a, b key) int {
	if c := cmp.Compare(a.Created, b.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// one returns the id of a to-one relationship, or "".
func (r *resource) one(name string) string {
	if v, ok := r.Rels[name].(ref); ok {
		return v.ID
	}
	return ""
}

// many returns the refs of a to-many relationship.
func (r *resource) many(name string) []ref {
	v, _ := r.Rels[name].([]ref)
	return v
}

// table holds the resources of one type in key order, plus an index by owner
// (the patient, for most types) in the same order.
type table struct {
	byID    map[string]*resource
	order   []*resource
	byOwner map[string][]*resource
}

func newTable() *table {
	return &table{byID: map[string]*resource{}, byOwner: map[string][]*resource{}}
}

func insertOrdered(list []*resource, r *resource) []*resource {
	k := r.key()
	if n := len(list); n == 0 || compareKeys(list[n-1].key(), k) < 0 {
		return append(list, r)
	}
	i, _ := slices.BinarySearchFunc(list, k, func(e *resource, k key) int { return compareKeys(e.key(), k) })
	return slices.Insert(list, i, r)
}

func removeOrdered(list []*resource, r *resource) []*resource {
	i, found := slices.BinarySearchFunc(list, r.key(), func(e *resource, k key) int { return compareKeys(e.key(), k) })
	if !found {
		return list
	}
	return slices.Delete(list, i, i+1)
}

func (t *table) add(r *resource) {
	t.byID[r.ID] = r
	t.order = insertOrdered(t.order, r)
	if r.Owner != "" {
		t.byOwner[r.Owner] = insertOrdered(t.byOwner[r.Owner], r)
	}
}

func (t *table) remove(r *resource) {
	delete(t.byID, r.ID)
	t.order = removeOrdered(t.order, r)
	if r.Owner != "" {
		t.byOwner[r.Owner] = removeOrdered(t.byOwner[r.Owner], r)
	}
}

// store is the in-memory database.
type store struct {
	tables      map[string]*table
	identifiers map[identKey]*resource // patients by organization and identifier
	rng         *rand.Rand
	// idBase and counter make ids as one MongoDB process does: a random
	// value drawn once, then a counter from a random start.
	idBase  [5]byte
	counter uint32
	// idTime gives the time an id carries for a resource stored at a time
	// (nil: that time). See Options.IDTime.
	idTime func(stored time.Time) time.Time
}

type identKey struct{ Org, System, Value string }

func newStore(seed int64) *store {
	s := &store{
		tables:      map[string]*table{},
		identifiers: map[identKey]*resource{},
		rng:         rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5eed_f17b_17a5)),
	}
	r := s.rng.Uint64()
	for i := range s.idBase {
		s.idBase[i] = byte(r >> (8 * i))
	}
	s.counter = uint32(r>>40) & 0xffffff
	return s
}

func (s *store) table(typ string) *table {
	t := s.tables[typ]
	if t == nil {
		t = newTable()
		s.tables[typ] = t
	}
	return t
}

func (s *store) get(typ, id string) *resource {
	if t := s.tables[typ]; t != nil {
		return t.byID[id]
	}
	return nil
}

// newID makes a 24-hex-digit id shaped like a MongoDB ObjectID: the second
// the resource was stored (or what idTime makes of it), the store's random
// value, a counter. Ids stored one after the other in a second therefore
// sort in that order. Deterministic under the seed.
func (s *store) newID(stored time.Time) string {
	at := stored
	if s.idTime != nil {
		at = s.idTime(stored)
	}
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(at.Unix()))
	copy(b[4:9], s.idBase[:])
	s.counter = (s.counter + 1) & 0xffffff
	b[9], b[10], b[11] = byte(s.counter>>16), byte(s.counter>>8), byte(s.counter)
	return hex.EncodeToString(b[:])
}

// randomHex returns n random bytes from the seeded source as hex.
func (s *store) randomHex(n int) string {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b)
}

// owners names, per type, the to-one relationship the owner index uses.
var owners = map[string]string{
	"patient_health_metric":      "patient",
	"calendar_event":             "owner",
	"patient_plan_summary":       "patient",
	"health_profile":             "patient",
	"health_profile_answer":      "patient",
	"reward":                     "patient",
	"reward_earning":             "patient",
	"reward_earning_fulfillment": "patient",
	"reward_program_activation":  "patient",
	"email_history":              "receiver",
}

// insert stores a new resource, giving it an id and timestamps.
func (s *store) insert(typ, org string, created time.Time, attrs map[string]any, rels map[string]any) *resource {
	if attrs == nil {
		attrs = map[string]any{}
	}
	if rels == nil {
		rels = map[string]any{}
	}
	r := &resource{Type: typ, ID: s.newID(created), Attrs: attrs, Rels: rels, Created: created, Updated: created, Org: org}
	if name, ok := owners[typ]; ok {
		r.Owner = r.one(name)
	}
	s.table(typ).add(r)
	if typ == "patient" {
		s.indexIdentifiers(r)
	}
	return r
}

func (s *store) delete(r *resource) {
	s.table(r.Type).remove(r)
	if r.Type == "patient" {
		s.unindexIdentifiers(r)
	}
}

// identifiersOf reads a patient's identifiers attribute.
func identifiersOf(attrs map[string]any) []identKey {
	list, _ := attrs["identifiers"].([]any)
	var out []identKey
	for _, v := range list {
		m, _ := v.(map[string]any)
		sys, _ := m["system"].(string)
		val, _ := m["value"].(string)
		if sys != "" && val != "" {
			out = append(out, identKey{System: sys, Value: val})
		}
	}
	return out
}

func (s *store) indexIdentifiers(p *resource) {
	for _, k := range identifiersOf(p.Attrs) {
		k.Org = p.Org
		s.identifiers[k] = p
	}
}

func (s *store) unindexIdentifiers(p *resource) {
	for _, k := range identifiersOf(p.Attrs) {
		k.Org = p.Org
		if s.identifiers[k] == p {
			delete(s.identifiers, k)
		}
	}
}

// patientByIdentifier finds a patient by identifier within an organization
// ("" matches any organization).
func (s *store) patientByIdentifier(org, system, value string) *resource {
	if org != "" {
		return s.identifiers[identKey{org, system, value}]
	}
	for _, p := range s.table("patient").order {
		for _, k := range identifiersOf(p.Attrs) {
			if k.System == system && k.Value == value {
				return p
			}
		}
	}
	return nil
}
