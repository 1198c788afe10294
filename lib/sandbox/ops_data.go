package sandbox

import (
	"net/http"
	"slices"
	"time"
)

// metricTypes are the PatientHealthMetricResource type values.
var metricTypes = []string{
	"blood_pressure_systolic", "blood_pressure_diastolic", "hemoglobin_a1c", "hdl_cholesterol", "ldl_cholesterol",
	"total_cholesterol", "triglycerides", "blood_urea_nitrogen", "creatinine", "hemoglobin", "hematocrit",
	"total_serum_iron", "thyroid_stimulating_hormone", "free_thyroxine", "free_triiodothyronine",
	"total_triiodothyronine", "cd4_cell_count", "hiv_viral_load", "inr", "free_testosterone", "total_testosterone",
	"c_reactive_protein", "prostate_specific_antigen", "cotinine", "c_peptide", "blood_pressure", "blood_glucose",
	"weight", "heart_rate", "body_fat_percentage", "body_mass_index", "body_temperature", "forced_expiratory_volume1",
	"forced_vital_capacity", "lean_body_mass", "nausea_level", "oxygen_saturation", "pain_level",
	"peak_expiratory_flow_rate", "peripheral_perfusion_index", "respiratory_rate", "inhaler_usage",
}

var calendarEventTypes = []string{"plan-check-in", "reminder", "telephone-call", "office-visit", "video-call"}

func fetchPatientHealthMetrics(c *call) (*reply, error) {
	return fetchByPatient("patient_health_metric", nil)(c)
}

// metricInput is one validated metric of a create request.
type metricInput struct {
	it      *inResource
	patient *resource
	attrs   map[string]any
}

// createPatientHealthMetric creates one metric (data object) or several
// (data array, answered as an array). With meta.ignore_duplicates, a metric
// equal in patient, type and occurred_at to a stored one is skipped: the
// stored one is answered and meta.ignored counts the skipped.
func createPatientHealthMetric(c *call) (*reply, error) {
	b, err := c.decodeBody(true)
	if err != nil {
		return nil, err
	}
	inputs := make([]metricInput, 0, len(b.items))
	for _, it := range b.items {
		if err := firstError(it.checkType("patient_health_metric"), it.required("type"),
			it.checkEnum("type", metricTypes...), it.checkTimes("occurred_at"), it.checkKind("code", "object"),
			it.checkKind("unit", "string"), it.checkKind("systolic", "number"), it.checkKind("diastolic", "number"),
		); err != nil {
			return nil, err
		}
		p, err := c.relOne(it, "patient", true, "patient")
		if err != nil {
			return nil, err
		}
		attrs := cleanAttrs(it.Attributes)
		if _, ok := attrs["occurred_at"]; !ok {
			attrs["occurred_at"] = formatTime(c.now)
		}
		inputs = append(inputs, metricInput{it, p, attrs})
	}
	var out []*resource
	ignored := 0
	for _, in := range inputs {
		if ignoreDuplicates(b, in.it) {
			if dup := duplicateMetric(c.s.db.table("patient_health_metric").byOwner[in.patient.ID], in.attrs); dup != nil {
				out = append(out, dup)
				ignored++
				continue
			}
		}
		m := c.s.db.insert("patient_health_metric", in.patient.Org, c.now, in.attrs,
			map[string]any{"patient": toRef(in.patient)})
		c.updateCurrentResults(in.patient, m)
		out = append(out, m)
	}
	var meta map[string]any
	if ignored > 0 {
		meta = map[string]any{"ignored": ignored}
	}
	if b.array {
		return c.many(http.StatusOK, out, meta), nil
	}
	rep, err := c.single(out[0])
	if rep != nil {
		rep.doc.Meta = meta
	}
	return rep, err
}

func duplicateMetric(list []*resource, attrs map[string]any) *resource {
	at, _ := attrTime(attrs, "occurred_at")
	for _, m := range list {
		if m.Attrs["type"] != attrs["type"] {
			continue
		}
		if t, ok := attrTime(m.Attrs, "occurred_at"); ok && t.Equal(at) {
			return m
		}
	}
	return nil
}

// updateCurrentResults keeps, on the patient's plan summaries, the latest
// metric of each type as the current_results relationship.
func (c *call) updateCurrentResults(p, m *resource) {
	at, _ := attrTime(m.Attrs, "occurred_at")
	for _, plan := range c.s.db.table("patient_plan_summary").byOwner[p.ID] {
		results := slices.Clone(plan.many("current_results"))
		replaced := false
		for i, x := range results {
			old := c.s.db.get(x.Type, x.ID)
			if old == nil || old.Attrs["type"] != m.Attrs["type"] {
				continue
			}
			if t, _ := attrTime(old.Attrs, "occurred_at"); !at.Before(t) {
				results[i] = toRef(m)
			}
			replaced = true
		}
		if !replaced {
			results = append(results, toRef(m))
		}
		plan.Rels["current_results"] = results
	}
}

// ---- calendar events ----

func checkCalendarAttrs(it *inResource) error {
	return firstError(it.checkEnum("type", calendarEventTypes...), it.checkKind("all_day", "boolean"),
		it.checkTimes("start_at", "end_at", "completed_at"), it.checkKind("attendees", "array"),
		it.checkKind("title", "string"), it.checkKind("description", "string"), it.checkKind("location", "string"),
		it.checkKind("time_zone", "string"), it.checkKind("completed_by", "object"))
}

// checkPlanCheckIn enforces: a plan-check-in is all-day and has no end_at.
func checkPlanCheckIn(it *inResource, attrs map[string]any) error {
	if attrs["type"] != "plan-check-in" {
		return nil
	}
	if attrs["all_day"] != true {
		return invalidBody(it.attrPtr("all_day"), "a plan-check-in event must have all_day true")
	}
	if _, ok := attrs["end_at"]; ok {
		return invalidBody(it.attrPtr("end_at"), "a plan-check-in event cannot have end_at")
	}
	return nil
}

func fetchCalendarEvents(c *call) (*reply, error) {
	if err := c.requireOne("filter[patient]", "filter[groups]", "filter[organization]", "filter[attendees]"); err != nil {
		return nil, err
	}
	sc := c.patientScope()
	q := c.query
	attendees := splitList(q.Get("filter[attendees]"))
	typ := q.Get("filter[type]")
	if typ != "" && !slices.Contains(calendarEventTypes, typ) {
		return nil, invalidParam("filter[type]", "filter[type] must be one of plan-check-in, reminder, telephone-call, office-visit, video-call")
	}
	var completed *bool
	if q.Has("filter[completed]") {
		v, err := parseBool("filter[completed]", q.Get("filter[completed]"))
		if err != nil {
			return nil, err
		}
		completed = &v
	}
	ranges, err := c.timeRanges("filter[start_at]", "filter[end_at]", "filter[completed_at]",
		"filter[created_at]", "filter[updated_at]")
	if err != nil {
		return nil, err
	}
	t := c.s.db.table("calendar_event")
	items := t.order
	if sc.patient != "" {
		items = t.byOwner[sc.patient]
	}
	items = filterItems(items, func(e *resource) bool {
		if (sc.patient != "" || sc.org != "" || len(sc.groups) > 0) && !c.matchesScope(sc, e.Owner, e.Org) {
			return false
		}
		if len(attendees) > 0 && !hasAttendee(e, attendees) {
			return false
		}
		if typ != "" && e.Attrs["type"] != typ {
			return false
		}
		if completed != nil {
			_, done := e.Attrs["completed_at"]
			if done != *completed {
				return false
			}
		}
		for name, tr := range ranges {
			var at time.Time
			var ok bool
			switch name {
			case "filter[created_at]":
				at, ok = e.Created, true
			case "filter[updated_at]":
				at, ok = e.Updated, true
			default:
				at, ok = attrTime(e.Attrs, name[len("filter["):len(name)-1])
			}
			if !ok || !tr.contains(at) {
				return false
			}
		}
		return true
	})
	return c.listPaged(items)
}

func hasAttendee(e *resource, ids []string) bool {
	list, _ := e.Attrs["attendees"].([]any)
	for _, a := range list {
		m, _ := a.(map[string]any)
		if id, _ := m["id"].(string); id != "" && slices.Contains(ids, id) {
			return true
		}
	}
	return false
}

func createCalendarEvent(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("calendar_event"), checkCalendarAttrs(it)); err != nil {
		return nil, err
	}
	attrs := cleanAttrs(it.Attributes)
	if err := checkPlanCheckIn(it, attrs); err != nil {
		return nil, err
	}
	owner, err := c.relOne(it, "owner", false, "patient", "coach")
	if err != nil {
		return nil, err
	}
	rels := map[string]any{}
	if owner != nil {
		rels["owner"] = toRef(owner)
	}
	e := c.s.db.insert("calendar_event", c.orgOf(owner), c.now, attrs, rels)
	return c.singleStatus(http.StatusCreated, e)
}

func updateCalendarEvent(c *call) (*reply, error) {
	e, it, err := c.patchTarget("calendar_event", checkCalendarAttrs)
	if err != nil {
		return nil, err
	}
	attrs := mergeAttrs(e.Attrs, it.Attributes)
	if err := checkPlanCheckIn(it, attrs); err != nil {
		return nil, err
	}
	owner, err := c.relOne(it, "owner", false, "patient", "coach")
	if err != nil {
		return nil, err
	}
	if owner != nil && owner.ID != e.Owner {
		t := c.s.db.table("calendar_event")
		t.remove(e)
		e.Rels["owner"], e.Owner, e.Org = toRef(owner), owner.ID, c.orgOf(owner)
		t.add(e)
	}
	e.Attrs = attrs
	c.touch(e)
	return c.single(e)
}

func deleteCalendarEvent(c *call) (*reply, error) {
	e, err := c.byPathID("calendar_event")
	if err != nil {
		return nil, err
	}
	c.s.db.delete(e)
	return &reply{http.StatusOK, &document{}}, nil
}

// createCalendarEventResponse records an attendee's answer and mirrors it
// into the event's attendees.
func createCalendarEventResponse(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("calendar_event_response"), it.required("response_status"),
		it.checkEnum("response_status", "accepted", "declined", "tentative"), it.checkKind("attendee", "object")); err != nil {
		return nil, err
	}
	e, err := c.relOne(it, "calendar_event", true, "calendar_event")
	if err != nil {
		return nil, err
	}
	user, err := c.relOne(it, "user", true, "patient", "coach")
	if err != nil {
		return nil, err
	}
	status := it.Attributes["response_status"]
	list, _ := e.Attrs["attendees"].([]any)
	list = slices.Clone(list)
	found := false
	for i, a := range list {
		m, _ := a.(map[string]any)
		if m["id"] == user.ID {
			nm := mergeAttrs(m, map[string]any{"response_status": status})
			list[i] = nm
			found = true
		}
	}
	if !found {
		list = append(list, map[string]any{"type": user.Type, "id": user.ID, "response_status": status})
	}
	e.Attrs = mergeAttrs(e.Attrs, map[string]any{"attendees": list})
	c.touch(e)
	r := c.s.db.insert("calendar_event_response", e.Org, c.now, cleanAttrs(it.Attributes),
		map[string]any{"calendar_event": toRef(e), "user": toRef(user)})
	return c.singleStatus(http.StatusCreated, r)
}

// ---- email histories ----

func fetchEmailHistories(c *call) (*reply, error) {
	if err := c.requireOne("filter[receiver]", "filter[sender]"); err != nil {
		return nil, err
	}
	q := c.query
	receiver, sender, kind := q.Get("filter[receiver]"), q.Get("filter[sender]"), q.Get("filter[emailType]")
	sortBy := q.Get("sort")
	if q.Has("sort") && sortBy != "send_time" && sortBy != "-send_time" {
		return nil, invalidParam("sort", "sort must be send_time or -send_time")
	}
	t := c.s.db.table("email_history")
	items := t.order
	if receiver != "" {
		items = t.byOwner[receiver]
	}
	items = filterItems(items, func(r *resource) bool {
		return (receiver == "" || r.Owner == receiver) && (sender == "" || r.one("sender") == sender) &&
			(kind == "" || r.Attrs["email_type"] == kind)
	})
	if sortBy != "" {
		slices.SortStableFunc(items, func(a, b *resource) int {
			ta, _ := attrTime(a.Attrs, "send_time")
			tb, _ := attrTime(b.Attrs, "send_time")
			if sortBy == "-send_time" {
				return tb.Compare(ta)
			}
			return ta.Compare(tb)
		})
	}
	return c.listAll(items)
}
