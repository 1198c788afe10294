package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

func fetchGroups(c *call) (*reply, error) {
	org, err := c.requireFilter("filter[organization]")
	if err != nil {
		return nil, err
	}
	name, byName := c.query.Get("filter[name]"), c.query.Has("filter[name]")
	return c.listAll(filterItems(c.s.db.table("group").order, func(g *resource) bool {
		return g.Org == org && (!byName || g.Attrs["name"] == name)
	}))
}

func createGroup(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("group"), it.required("name"), it.checkKind("name", "string"),
		it.checkKind("bio", "string")); err != nil {
		return nil, err
	}
	org, err := c.relOne(it, "organization", false, "organization")
	if err != nil {
		return nil, err
	}
	orgID := c.tok.Org
	if org != nil {
		orgID = org.ID
	}
	name := it.Attributes["name"]
	for _, g := range c.s.db.table("group").order {
		if g.Org == orgID && g.Attrs["name"] == name {
			return nil, invalidBody(it.attrPtr("name"), "a group with this name exists in the organization")
		}
	}
	g := c.s.db.insert("group", orgID, c.now, cleanAttrs(it.Attributes),
		map[string]any{"organization": ref{"organization", orgID}})
	return c.singleStatus(http.StatusCreated, g)
}

// patientScope is the patient/groups/organization filter set of a list.
type patientScope struct {
	patient string
	groups  []string
	org     string
}

func (c *call) patientScope() patientScope {
	return patientScope{
		patient: c.query.Get("filter[patient]"),
		groups:  splitList(c.query.Get("filter[groups]")),
		org:     c.query.Get("filter[organization]"),
	}
}

// inGroups reports whether a patient belongs to one of the groups.
func inGroups(p *resource, groups []string) bool {
	for _, g := range p.many("groups") {
		if slices.Contains(groups, g.ID) {
			return true
		}
	}
	return false
}

// matches applies the scope to a resource owned by patient pid.
func (c *call) matchesScope(sc patientScope, pid, org string) bool {
	if sc.patient != "" && pid != sc.patient {
		return false
	}
	if sc.org != "" && org != sc.org {
		return false
	}
	if len(sc.groups) > 0 {
		p := c.s.db.get("patient", pid)
		if p == nil || !inGroups(p, sc.groups) {
			return false
		}
	}
	return true
}

// fetchByPatientScope lists health profiles or answers: at least one of
// filter[patient], filter[groups], filter[organization].
func fetchByPatientScope(typ string) func(*call) (*reply, error) {
	return func(c *call) (*reply, error) {
		if err := c.requireOne("filter[patient]", "filter[groups]", "filter[organization]"); err != nil {
			return nil, err
		}
		sc := c.patientScope()
		t := c.s.db.table(typ)
		items := t.order
		if sc.patient != "" {
			items = t.byOwner[sc.patient]
		}
		return c.listPaged(filterItems(items, func(r *resource) bool { return c.matchesScope(sc, r.Owner, r.Org) }))
	}
}

func fetchPatients(c *call) (*reply, error) {
	if err := c.requireOne("filter[groups]", "filter[organization]"); err != nil {
		return nil, err
	}
	sc := c.patientScope()
	q := c.query
	sys, val := q.Get("filter[identifier][system]"), q.Get("filter[identifier][value]")
	if (sys == "") != (val == "") {
		missing := "filter[identifier][value]"
		if sys == "" {
			missing = "filter[identifier][system]"
		}
		return nil, invalidParam(missing, "filter[identifier][system] and filter[identifier][value] go together")
	}
	var archived *bool
	if q.Has("filter[archived]") {
		v, err := parseBool("filter[archived]", q.Get("filter[archived]"))
		if err != nil {
			return nil, err
		}
		archived = &v
	}
	ranges, err := c.timeRanges("filter[created_at]", "filter[updated_at]")
	if err != nil {
		return nil, err
	}
	items := filterItems(c.s.db.table("patient").order, func(p *resource) bool {
		if sc.org != "" && p.Org != sc.org {
			return false
		}
		if len(sc.groups) > 0 && !inGroups(p, sc.groups) {
			return false
		}
		if sys != "" && !hasIdentifier(p, sys, val) {
			return false
		}
		if archived != nil {
			a, _ := p.Attrs["archived"].(bool)
			if a != *archived {
				return false
			}
		}
		if tr, ok := ranges["filter[created_at]"]; ok && !tr.contains(p.Created) {
			return false
		}
		if tr, ok := ranges["filter[updated_at]"]; ok && !tr.contains(p.Updated) {
			return false
		}
		return true
	})
	return c.listPaged(items)
}

// timeRanges parses the time-range filters present in the query.
func (c *call) timeRanges(names ...string) (map[string]timeRange, error) {
	out := map[string]timeRange{}
	for _, n := range names {
		if !c.query.Has(n) {
			continue
		}
		tr, err := parseRange(n, c.query.Get(n))
		if err != nil {
			return nil, err
		}
		out[n] = tr
	}
	return out, nil
}

func hasIdentifier(p *resource, system, value string) bool {
	for _, k := range identifiersOf(p.Attrs) {
		if k.System == system && k.Value == value {
			return true
		}
	}
	return false
}

// checkPatientAttrs validates the attributes a patient body may carry.
func checkPatientAttrs(it *inResource) error {
	if err := firstError(
		it.checkEnum("gender", "male", "female", "other"),
		it.checkKind("first_name", "string"), it.checkKind("last_name", "string"),
		it.checkKind("email_address", "string"), it.checkKind("note", "string"),
		it.checkKind("archived", "boolean"), it.checkKind("identifiers", "array"),
		it.checkKind("phone_numbers", "array"), it.checkKind("addresses", "array"),
		it.checkTimes("enrolled_at", "invited_at", "first_access_at", "last_access_at"),
	); err != nil {
		return err
	}
	if v, ok := it.Attributes["birth_date"]; ok && v != nil {
		s, _ := v.(string)
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return invalidBody(it.attrPtr("birth_date"), "attribute birth_date must be a date (YYYY-MM-DD)")
		}
	}
	list, _ := it.Attributes["identifiers"].([]any)
	for i, v := range list {
		m, _ := v.(map[string]any)
		sys, _ := m["system"].(string)
		val, _ := m["value"].(string)
		if sys == "" || val == "" {
			return invalidBody(it.attrPtr("identifiers")+"/"+itoa(i), "an identifier needs a system and a value")
		}
	}
	return nil
}

// duplicateOf finds another patient of org sharing one of the identifiers.
func (c *call) duplicateOf(org string, attrs map[string]any, self *resource) *resource {
	for _, k := range identifiersOf(attrs) {
		k.Org = org
		if p := c.s.db.identifiers[k]; p != nil && p != self {
			return p
		}
	}
	return nil
}

// patientRels resolves the groups and coaches of a patient body.
func (c *call) patientRels(it *inResource) (groups, coaches []*resource, hasGroups, hasCoaches bool, err error) {
	if groups, hasGroups, err = c.relMany(it, "groups", "group"); err != nil {
		return
	}
	coaches, hasCoaches, err = c.relMany(it, "coaches", "coach")
	return
}

func ignoreDuplicates(b *body, it *inResource) bool {
	v, _ := b.meta["ignore_duplicates"].(bool)
	w, _ := it.Meta["ignore_duplicates"].(bool)
	return v || w
}

func createPatient(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("patient"), checkPatientAttrs(it)); err != nil {
		return nil, err
	}
	groups, coaches, _, _, err := c.patientRels(it)
	if err != nil {
		return nil, err
	}
	org := c.orgOf(groups...)
	attrs := cleanAttrs(it.Attributes)
	if dup := c.duplicateOf(org, attrs, nil); dup != nil {
		if ignoreDuplicates(b, it) {
			rep, err := c.single(dup)
			if err == nil {
				rep.doc.Meta = map[string]any{"ignored": 1}
			}
			return rep, err
		}
		return nil, invalidBody(it.attrPtr("identifiers"), "a patient with this identifier exists in the organization")
	}
	return c.singleStatus(http.StatusCreated, c.newPatient(org, attrs, groups, coaches))
}

func (c *call) newPatient(org string, attrs map[string]any, groups, coaches []*resource) *resource {
	if _, ok := attrs["archived"]; !ok {
		attrs["archived"] = false
	}
	return c.s.db.insert("patient", org, c.now, attrs, map[string]any{
		"groups": toRefs(groups), "coaches": toRefs(coaches)})
}

// updatePatientFrom applies a body to an existing patient.
func (c *call) updatePatientFrom(p *resource, it *inResource, groups, coaches []*resource, hasGroups, hasCoaches bool) error {
	attrs := mergeAttrs(p.Attrs, it.Attributes)
	org := p.Org
	if hasGroups && len(groups) > 0 {
		org = groups[0].Org
	}
	if dup := c.duplicateOf(org, attrs, p); dup != nil {
		return invalidBody(it.attrPtr("identifiers"), "a patient with this identifier exists in the organization")
	}
	if was, now := p.Attrs["archived"], attrs["archived"]; now != nil && was != now {
		hist, _ := attrs["archive_history"].([]any)
		attrs["archive_history"] = append(slices.Clone(hist), map[string]any{"archived": now, "changed_at": formatTime(c.now)})
	}
	c.s.db.unindexIdentifiers(p)
	p.Attrs, p.Org = attrs, org
	c.s.db.indexIdentifiers(p)
	if hasGroups {
		p.Rels["groups"] = toRefs(groups)
	}
	if hasCoaches {
		p.Rels["coaches"] = toRefs(coaches)
	}
	c.touch(p)
	return nil
}

func updatePatient(c *call) (*reply, error) {
	p, it, err := c.patchTarget("patient", checkPatientAttrs)
	if err != nil {
		return nil, err
	}
	groups, coaches, hasGroups, hasCoaches, err := c.patientRels(it)
	if err != nil {
		return nil, err
	}
	if err := c.updatePatientFrom(p, it, groups, coaches, hasGroups, hasCoaches); err != nil {
		return nil, err
	}
	return c.single(p)
}

// upsertPatient creates or updates the patient meta.query.identifier names,
// within the organization of meta.query.organization, the groups
// (data.relationships.groups, else meta.query.groups), or the token.
func upsertPatient(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("patient"), checkPatientAttrs(it)); err != nil {
		return nil, err
	}
	query, ptr := it.Meta["query"], "/data/meta/query"
	if query == nil {
		query, ptr = b.meta["query"], "/meta/query"
	}
	q, _ := query.(map[string]any)
	ident, _ := q["identifier"].(map[string]any)
	sys, _ := ident["system"].(string)
	val, _ := ident["value"].(string)
	if sys == "" || val == "" {
		return nil, invalidBody(ptr+"/identifier", "upsert needs meta.query.identifier with system and value")
	}
	groups, coaches, hasGroups, hasCoaches, err := c.patientRels(it)
	if err != nil {
		return nil, err
	}
	if !hasGroups {
		// The lookup's groups: where to look for the patient, and to create it.
		ids, _ := q["groups"].([]any)
		for i, x := range ids {
			id, _ := x.(string)
			g := c.s.db.get("group", id)
			if g == nil {
				return nil, notFoundAt(fmt.Sprintf("%s/groups/%d", ptr, i), "no group with id "+id)
			}
			groups, hasGroups = append(groups, g), true
		}
	}
	org, _ := q["organization"].(string)
	if org == "" {
		org = c.orgOf(groups...)
	}
	if c.s.db.get("organization", org) == nil {
		return nil, notFoundAt(ptr+"/organization", "no organization with id "+org)
	}
	if !hasIdentifier(&resource{Attrs: it.Attributes}, sys, val) {
		list, _ := it.Attributes["identifiers"].([]any)
		it.Attributes["identifiers"] = append(slices.Clone(list), map[string]any{"system": sys, "value": val})
	}
	if p := c.s.db.patientByIdentifier(org, sys, val); p != nil {
		if err := c.updatePatientFrom(p, it, groups, coaches, hasGroups, hasCoaches); err != nil {
			return nil, err
		}
		return c.single(p)
	}
	attrs := cleanAttrs(it.Attributes)
	if dup := c.duplicateOf(org, attrs, nil); dup != nil {
		return nil, invalidBody(it.attrPtr("identifiers"), "a patient with this identifier exists in the organization")
	}
	return c.single(c.newPatient(org, attrs, groups, coaches))
}

func fetchPatientRelated(name string) func(*call) (*reply, error) {
	return func(c *call) (*reply, error) {
		p, err := c.byPathID("patient")
		if err != nil {
			return nil, err
		}
		var out []*resource
		for _, x := range p.many(name) {
			if r := c.s.db.get(x.Type, x.ID); r != nil {
				out = append(out, r)
			}
		}
		return c.listAll(out)
	}
}

// checkBodyID enforces that data.id, when sent, is the path's id.
func (c *call) checkBodyID(it *inResource, id string) error {
	if it.ID != "" && it.ID != id {
		return invalidBody(it.base+"/id", "data.id does not match the id in the path")
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
