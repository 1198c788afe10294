package sandbox

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// metricKind describes how the seed makes a metric of one type.
type metricKind struct {
	typ, loinc, unit string
	lo, hi           float64
	decimals         int
}

// metricKinds are the seeded metric types with their LOINC codes and units
// (no code where LOINC has none for the measure).
var metricKinds = []metricKind{
	{"weight", "29463-7", "kg", 52, 118, 1},
	{"heart_rate", "8867-4", "/min", 54, 102, 0},
	{"blood_pressure", "85354-9", "mmHg", 0, 0, 0},
	{"blood_glucose", "2339-0", "mg/dL", 70, 210, 0},
	{"oxygen_saturation", "59408-5", "%", 92, 100, 0},
	{"hemoglobin_a1c", "4548-4", "%", 5.1, 10.2, 1},
	{"ldl_cholesterol", "13457-7", "mg/dL", 68, 190, 0},
	{"hdl_cholesterol", "2085-9", "mg/dL", 34, 82, 0},
	{"total_cholesterol", "2093-3", "mg/dL", 140, 265, 0},
	{"triglycerides", "2571-8", "mg/dL", 60, 260, 0},
	{"body_mass_index", "39156-5", "kg/m2", 18.5, 38, 1},
	{"body_temperature", "8310-5", "Cel", 36.1, 38.2, 1},
	{"respiratory_rate", "9279-1", "/min", 12, 21, 0},
	{"body_fat_percentage", "41982-0", "%", 12, 38, 1},
	{"creatinine", "2160-0", "mg/dL", 0.6, 1.4, 2},
	{"pain_level", "72514-3", "{score}", 0, 10, 0},
	{"inhaler_usage", "", "{puffs}", 0, 4, 0},
}

var (
	firstNames = []string{"Andrew", "Maria", "James", "Aisha", "Robert", "Mei", "David", "Sofia", "Michael", "Priya",
		"William", "Fatima", "Joseph", "Elena", "Thomas", "Grace", "Daniel", "Amara", "Carlos", "Hannah", "Kenji",
		"Olivia", "Samuel", "Chloe", "Ahmed", "Isabel", "Lucas", "Nora", "Omar", "Ruth"}
	lastNames = []string{"Smith", "Garcia", "Johnson", "Okafor", "Brown", "Chen", "Miller", "Rossi", "Davis", "Patel",
		"Wilson", "Haddad", "Moore", "Ivanova", "Taylor", "Kim", "Anderson", "Mensah", "Lopez", "Schmidt", "Tanaka",
		"Martin", "Nguyen", "Dubois", "Hassan", "Silva", "Novak", "Berg", "Farah", "Cohen"}
	coachNames = [][2]string{{"Laura", "Bennett"}, {"Marcus", "Reyes"}, {"Ingrid", "Holm"}, {"Tobias", "Wright"}}
	groupNames = []string{"Patients Lead", "Diabetes Care", "Heart Health"}
)

// seeder fills a store with a deterministic organisation.
type seeder struct {
	db     *store
	anchor time.Time
	out    Seeded
	org    string
}

func (sd *seeder) float(lo, hi float64, decimals int) float64 {
	v := lo + sd.db.rng.Float64()*(hi-lo)
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

func (sd *seeder) days(n float64) time.Duration { return time.Duration(n * float64(24*time.Hour)) }

// between is a random time in [a, b), to the second.
func (sd *seeder) between(a, b time.Time) time.Time {
	span := b.Sub(a)
	if span <= 0 {
		return a
	}
	return a.Add(time.Duration(sd.db.rng.Int64N(int64(span)))).Truncate(time.Second)
}

func (sd *seeder) insert(typ string, created time.Time, attrs map[string]any, rels map[string]any) *resource {
	return sd.db.insert(typ, sd.org, created, attrs, rels)
}

// seed puts the organisation of n patients in the store, dated before now
// truncated to the day, and tells what it made.
func seed(db *store, now time.Time, n int) Seeded {
	sd := &seeder{db: db, anchor: now.UTC().Truncate(24 * time.Hour)}
	start := sd.anchor.Add(-sd.days(90))
	org := db.insert("organization", "", start.Add(-sd.days(400)), map[string]any{"name": "Riverside Health Partners"}, nil)
	org.Org = org.ID
	sd.org = org.ID
	sd.out.OrganizationID = org.ID
	var groups, coaches []*resource
	for i, name := range groupNames {
		g := sd.insert("group", start.Add(-sd.days(300-float64(i))), map[string]any{
			"name": name, "bio": name + " programme of Riverside Health Partners"},
			map[string]any{"organization": toRef(org)})
		groups = append(groups, g)
		sd.out.GroupIDs = append(sd.out.GroupIDs, g.ID)
		sd.out.GroupNames = append(sd.out.GroupNames, name)
	}
	for i, n := range coachNames {
		c := sd.insert("coach", start.Add(-sd.days(200-float64(i))), map[string]any{"first_name": n[0], "last_name": n[1]}, nil)
		coaches = append(coaches, c)
		sd.out.CoachIDs = append(sd.out.CoachIDs, c.ID)
	}
	patients := sd.patients(start, groups, coaches)
	sd.out.PatientID = patients[0].ID
	sd.out.PatientIdentifier = Identifier{"medical-record-number", "MRN-0001"}
	for _, p := range patients[:20] {
		sd.metrics(p)
	}
	for i, p := range patients[:30] {
		n := 2
		if i == 0 {
			n = 4
		}
		ids := sd.calendarEvents(p, coaches[i%len(coaches)], n)
		if i == 0 {
			sd.out.CalendarEventID = ids[0]
		}
	}
	for _, p := range patients[:20] {
		sd.plan(p)
	}
	defs := sd.questionDefinitions(start)
	for _, p := range patients[:15] {
		sd.healthProfile(p, defs)
	}
	sd.rewards(groups, patients[:10])
	for i, p := range patients[:20] {
		sd.emails(p, coaches[i%len(coaches)])
	}
	sd.morePatients(start, n-len(patients), groups, coaches)
	return sd.out
}

// morePatients adds n patients enrolled over the seeded 90 days, in
// enrolment order, each with three metrics: a large organisation.
func (sd *seeder) morePatients(start time.Time, n int, groups, coaches []*resource) {
	rng := sd.db.rng
	span := sd.anchor.Add(-sd.days(1)).Sub(start)
	for i := range n {
		k := DefaultPatients + i
		created := start.Add(span * time.Duration(i) / time.Duration(n)).Truncate(time.Second)
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		p := sd.insert("patient", created, map[string]any{
			"first_name":  first,
			"last_name":   last,
			"gender":      []string{"female", "male"}[rng.IntN(2)],
			"birth_date":  time.Date(1940+rng.IntN(63), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
			"identifiers": []any{map[string]any{"system": "medical-record-number", "value": fmt.Sprintf("MRN-%04d", k+1)}},
			"archived":    false,
			"enrolled_at": formatTime(created),
		}, map[string]any{"groups": toRefs([]*resource{groups[k%len(groups)]}),
			"coaches": toRefs([]*resource{coaches[k%len(coaches)]})})
		sd.out.PatientIDs = append(sd.out.PatientIDs, p.ID)
		at := created
		step := sd.anchor.Add(-time.Hour).Sub(created) / 4
		for range 3 {
			at = at.Add(step).Truncate(time.Second)
			sd.metric(p, metricKinds[rng.IntN(5)], at)
		}
	}
}

func (sd *seeder) patients(start time.Time, groups, coaches []*resource) []*resource {
	rng := sd.db.rng
	var out []*resource
	sameUpdate := sd.anchor.Add(-sd.days(5)).Add(9 * time.Hour)
	for i := range 60 {
		first := firstNames[rng.IntN(len(firstNames))]
		last := lastNames[rng.IntN(len(lastNames))]
		gender := []string{"female", "male"}[rng.IntN(2)]
		if i%17 == 16 {
			gender = "other"
		}
		created := start.Add(sd.days(float64(i) * 1.45)).Add(time.Duration(rng.IntN(600)) * time.Minute).Truncate(time.Second)
		idents := []any{map[string]any{"system": "medical-record-number", "value": fmt.Sprintf("MRN-%04d", i+1)}}
		if i%4 == 0 {
			idents = append(idents, map[string]any{"system": "MyEHR", "value": fmt.Sprintf("E%05d", 10000+i*7)})
		}
		attrs := map[string]any{
			"first_name":    first,
			"last_name":     last,
			"gender":        gender,
			"birth_date":    time.Date(1940+rng.IntN(63), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
			"email_address": fmt.Sprintf("%s.%s%d@example.org", strings.ToLower(first), strings.ToLower(last), i+1),
			"phone_numbers": phoneNumbers(i),
			"identifiers":   idents,
			"archived":      i%15 == 14,
			"enrolled_at":   formatTime(created),
			"invited_at":    formatTime(created.Add(-2 * time.Hour)),
		}
		if i%2 == 0 {
			attrs["addresses"] = []any{address(i)}
		}
		if i%15 == 14 {
			attrs["archive_history"] = []any{map[string]any{"archived": true, "changed_at": formatTime(created.Add(sd.days(3)))}}
		}
		pg := []*resource{groups[i%len(groups)]}
		if i%5 == 0 {
			pg = append(pg, groups[(i+1)%len(groups)])
		}
		pc := []*resource{coaches[i%len(coaches)]}
		if i%6 == 0 {
			pc = append(pc, coaches[(i+1)%len(coaches)])
		}
		p := sd.insert("patient", created, attrs, map[string]any{"groups": toRefs(pg), "coaches": toRefs(pc)})
		switch {
		case i >= 10 && i <= 12:
			p.Updated = sameUpdate // several patients share one updated_at
		case i%3 != 0:
			p.Updated = sd.between(created, sd.anchor.Add(-time.Hour))
		}
		if p.Updated.After(created) {
			p.Attrs["last_access_at"] = formatTime(p.Updated)
		}
		out = append(out, p)
		sd.out.PatientIDs = append(sd.out.PatientIDs, p.ID)
	}
	return out
}

// phoneNumbers are a patient's phones as the API writes them ({type,
// value, primary}); no random draw, so the rest of the seed stays the same.
func phoneNumbers(i int) []any {
	out := []any{map[string]any{"type": "mobile", "value": fmt.Sprintf("+1-555-01%02d", i%100), "primary": true}}
	if i%3 == 0 {
		out = append(out, map[string]any{"type": "home", "value": fmt.Sprintf("+1-555-02%02d", i%100), "primary": false})
	}
	if i%10 == 5 {
		out = append(out, map[string]any{"type": "work-fax", "value": fmt.Sprintf("+1-555-03%02d", i%100), "primary": false})
	}
	return out
}

// address is a patient's home address with the API's address parts.
func address(i int) map[string]any {
	streets := []string{"Elm Street", "Riverside Drive", "Oak Avenue", "Mill Road"}
	cities := [][2]string{{"Cambridge", "MA"}, {"Springfield", "IL"}, {"Portland", "OR"}}
	city := cities[i%len(cities)]
	a := map[string]any{"use": "home", "type": "both", "lines": []any{fmt.Sprintf("%d %s", 10+i, streets[i%len(streets)])},
		"city": city[0], "state": city[1], "postal_code": fmt.Sprintf("%05d", 2100+i*37), "country": "US"}
	if i%4 == 2 {
		a["lines"] = append(a["lines"].([]any), fmt.Sprintf("Apt %d", i))
	}
	return a
}

func (sd *seeder) metrics(p *resource) {
	rng := sd.db.rng
	from := p.Created
	if limit := sd.anchor.Add(-sd.days(60)); from.Before(limit) {
		from = limit
	}
	kinds := []int{0, 1, 2, 3, 4}
	for len(kinds) < 10 {
		kinds = append(kinds, rng.IntN(len(metricKinds)))
	}
	at := from
	step := sd.anchor.Add(-time.Hour).Sub(from) / 11
	for _, k := range kinds {
		at = at.Add(step).Add(-time.Duration(rng.IntN(3600)) * time.Second).Truncate(time.Second)
		sd.metric(p, metricKinds[k], at)
	}
}

// metric stores a metric of p that occurred at at, uploaded minutes later.
func (sd *seeder) metric(p *resource, mk metricKind, at time.Time) {
	rng := sd.db.rng
	attrs := map[string]any{"type": mk.typ, "unit": mk.unit, "occurred_at": formatTime(at)}
	if mk.loinc != "" {
		attrs["code"] = map[string]any{"system": "LOINC", "value": mk.loinc}
	}
	if mk.typ == "blood_pressure" {
		attrs["systolic"] = 105 + rng.IntN(56)
		attrs["diastolic"] = 62 + rng.IntN(38)
	} else {
		attrs["value"] = sd.float(mk.lo, mk.hi, mk.decimals)
	}
	sd.insert("patient_health_metric", at.Add(time.Duration(1+rng.IntN(30))*time.Minute), attrs,
		map[string]any{"patient": toRef(p)})
}

func (sd *seeder) calendarEvents(p, coach *resource, n int) []string {
	rng := sd.db.rng
	titles := map[string]string{"plan-check-in": "Plan check-in", "reminder": "Refill prescription",
		"telephone-call": "Follow-up call", "office-visit": "Quarterly visit", "video-call": "Coaching session"}
	var ids []string
	for j := range n {
		typ := calendarEventTypes[rng.IntN(len(calendarEventTypes))]
		startAt := sd.anchor.Add(-sd.days(30)).Add(time.Duration(rng.IntN(60*24)) * time.Hour)
		if typ == "plan-check-in" {
			startAt = startAt.Truncate(24 * time.Hour)
		}
		attrs := map[string]any{
			"type":      typ,
			"title":     titles[typ],
			"start_at":  formatTime(startAt),
			"all_day":   typ == "plan-check-in",
			"time_zone": "America/New_York",
			"attendees": []any{
				map[string]any{"type": "patient", "id": p.ID, "response_status": "accepted"},
				map[string]any{"type": "coach", "id": coach.ID, "response_status": []string{"accepted", "tentative"}[j%2]},
			},
		}
		switch typ {
		case "office-visit":
			attrs["location"] = "Riverside Clinic, Room 4"
			attrs["end_at"] = formatTime(startAt.Add(45 * time.Minute))
		case "telephone-call", "video-call":
			attrs["end_at"] = formatTime(startAt.Add(30 * time.Minute))
		}
		if startAt.Before(sd.anchor) && rng.IntN(10) < 6 {
			attrs["completed_at"] = formatTime(startAt.Add(time.Hour))
			attrs["completed_by"] = map[string]any{"type": "coach", "id": coach.ID}
		}
		created := startAt.Add(-time.Duration(1+rng.IntN(10)) * 24 * time.Hour)
		if !created.Before(sd.anchor) {
			created = sd.anchor.Add(-time.Duration(1+rng.IntN(48)) * time.Hour)
		}
		if created.Before(p.Created) {
			created = p.Created.Add(time.Hour)
		}
		e := sd.insert("calendar_event", created, attrs, map[string]any{"owner": toRef(p)})
		if done, ok := attrTime(attrs, "completed_at"); ok && done.After(created) && done.Before(sd.anchor) {
			e.Updated = done
		}
		ids = append(ids, e.ID)
	}
	return ids
}

func (sd *seeder) plan(p *resource) {
	rng := sd.db.rng
	created := p.Created.Add(24 * time.Hour)
	plan := sd.insert("patient_plan_summary", created, map[string]any{
		"effective_from":            formatTime(created),
		"time_zone":                 "America/New_York",
		"adherence":                 map[string]any{"week": sd.float(0.3, 1, 2), "month": sd.float(0.3, 1, 2)},
		"critical":                  map[string]any{},
		"window_notification_times": map[string]any{"morning": "08:00", "evening": "19:00"},
		"window_order":              []any{"morning", "evening"},
	}, map[string]any{"patient": toRef(p)})
	titles := []string{"Walk 30 minutes", "Log your weight", "Take medication with breakfast", "Check blood glucose"}
	var actions []ref
	for j := range 2 + rng.IntN(2) {
		a := sd.insert("action", created.Add(time.Duration(j+1)*time.Minute), map[string]any{
			"type":            "other_lifestyle",
			"title":           titles[(j+rng.IntN(2))%len(titles)],
			"effective_from":  formatTime(created),
			"tracking":        true,
			"metric_required": j == 1,
			"frequency_goal":  map[string]any{"count": 3 + rng.IntN(5), "period": "week"},
		}, map[string]any{"plan": toRef(plan)})
		actions = append(actions, toRef(a))
	}
	b := sd.insert("bundle", created.Add(10*time.Minute), map[string]any{
		"type": "custom", "title": "Healthy habits", "effective_from": formatTime(created)},
		map[string]any{"plan": toRef(plan), "actions": actions})
	plan.Rels["actions"] = actions
	plan.Rels["bundles"] = []ref{toRef(b)}
	// current results: the latest metric of each type
	latest := map[any]*resource{}
	var order []any
	for _, m := range sd.db.table("patient_health_metric").byOwner[p.ID] {
		t := m.Attrs["type"]
		if _, ok := latest[t]; !ok {
			order = append(order, t)
		}
		latest[t] = m
	}
	var results []ref
	for _, t := range order {
		results = append(results, toRef(latest[t]))
	}
	plan.Rels["current_results"] = results
}

func (sd *seeder) questionDefinitions(start time.Time) []*resource {
	defs := []struct{ category, text string }{
		{"lifestyle_behaviors", "How many days a week do you exercise for at least 30 minutes?"},
		{"lifestyle_behaviors", "Do you smoke?"},
		{"mental_wellbeing", "Over the last two weeks, how often have you felt down or hopeless?"},
		{"mental_wellbeing", "How would you rate your sleep quality?"},
		{"preventative_care", "When was your last flu vaccination?"},
	}
	var out []*resource
	for i, d := range defs {
		out = append(out, sd.insert("health_question_definition", start.Add(-sd.days(100-float64(i))), map[string]any{
			"category": d.category, "text": d.text,
			"format":       map[string]any{"type": "choice", "options": []any{"never", "sometimes", "often", "always"}},
			"requirements": []any{},
		}, nil))
	}
	return out
}

func (sd *seeder) healthProfile(p *resource, defs []*resource) {
	rng := sd.db.rng
	created := p.Created.Add(2 * time.Hour)
	prof := sd.insert("health_profile", created, map[string]any{}, map[string]any{"patient": toRef(p)})
	var questions []ref
	answered := 0
	for j, d := range defs {
		rels := map[string]any{"profile": toRef(prof), "question_definition": toRef(d)}
		if j < 4 {
			at := sd.between(created, sd.anchor.Add(-time.Hour))
			choice := []string{"never", "sometimes", "often", "always"}[rng.IntN(4)]
			ans := sd.insert("health_profile_answer", at, map[string]any{
				"question_id": d.ID,
				"latest":      map[string]any{"value": choice, "answered_at": formatTime(at)},
				"history":     []any{map[string]any{"value": choice, "answered_at": formatTime(at)}},
			}, map[string]any{"patient": toRef(p)})
			rels["answer"] = toRef(ans)
			answered++
		}
		q := sd.insert("health_profile_question", created.Add(time.Duration(j+1)*time.Second), map[string]any{}, rels)
		questions = append(questions, toRef(q))
	}
	prof.Rels["questions"] = questions
	prof.Attrs["stats"] = []any{map[string]any{"answered": answered, "total": len(defs)}}
}

func (sd *seeder) rewards(groups, patients []*resource) {
	progs := []*resource{
		sd.insert("reward_program", sd.anchor.Add(-sd.days(80)), map[string]any{
			"name": "Active Steps Challenge", "tagline": "Move more, earn more", "description": "Points for weekly activity goals",
			"budget_unit": "point", "budget_value": 5000, "start_at": formatTime(sd.anchor.Add(-sd.days(80))),
			"end_at": formatTime(sd.anchor.Add(sd.days(100))), "frozen": false, "fulfill_as_earned": false, "duration_active": 90,
		}, map[string]any{"group": toRef(groups[0])}),
		sd.insert("reward_program", sd.anchor.Add(-sd.days(70)), map[string]any{
			"name": "A1C Improvement", "tagline": "Lower your A1C", "description": "Dollars for lab improvements",
			"budget_unit": "dollar", "budget_value": 2500, "start_at": formatTime(sd.anchor.Add(-sd.days(70))),
			"end_at": formatTime(sd.anchor.Add(sd.days(110))), "frozen": false, "fulfill_as_earned": true, "duration_active": 180,
		}, map[string]any{"group": toRef(groups[1])}),
	}
	sd.out.RewardProgramID = progs[0].ID
	for i, p := range patients {
		prog := progs[i%2]
		at := sd.between(maxTime(p.Created, prog.Created), sd.anchor.Add(-sd.days(2)))
		act := sd.insert("reward_program_activation", at, map[string]any{
			"activated_at": formatTime(at), "active": true, "budget_unit": prog.Attrs["budget_unit"],
			"allocated_count": 2, "earned_count": 1, "fulfill_as_earned": prog.Attrs["fulfill_as_earned"],
			"total_allocated_value": 20, "total_earned_value": 10,
		}, map[string]any{"patient": toRef(p), "reward_program": toRef(prog)})
		for j := range 2 {
			rat := at.Add(time.Duration(j+1) * time.Hour)
			attrs := map[string]any{
				"description":  []string{"Log weight 5 days in a row", "Complete 3 walks this week"}[j],
				"allocated_at": formatTime(rat), "allocated_value": 10, "allocated_unit": prog.Attrs["budget_unit"],
				"target_at": formatTime(rat.Add(sd.days(7))), "_thread": fmt.Sprintf("thread-%02d", i),
			}
			r := sd.insert("reward", rat, attrs, map[string]any{"patient": toRef(p), "reward_program_activation": toRef(act)})
			if j != 0 {
				continue
			}
			eat := rat.Add(30 * time.Hour)
			r.Attrs["earned_at"], r.Attrs["earned_value"] = formatTime(eat), 10
			e := sd.insert("reward_earning", eat, map[string]any{
				"earned_at": formatTime(eat), "earned_value": 10, "earned_unit": prog.Attrs["budget_unit"],
				"ready_for_fulfillment": i%2 == 0,
			}, map[string]any{"reward": toRef(r), "patient": toRef(p), "group": toRef(p.many("groups")[0].resolve(sd.db)),
				"reward_program_activation": toRef(act)})
			if i%4 == 0 {
				fat := eat.Add(12 * time.Hour)
				sd.insert("reward_earning_fulfillment", fat, map[string]any{
					"fulfilled_at": formatTime(fat), "fulfilled_value": 10, "fulfilled_unit": prog.Attrs["budget_unit"],
				}, map[string]any{"reward_earning": toRef(e), "patient": toRef(p)})
				e.Attrs["fulfilled_at"], e.Attrs["fulfilled_value"] = formatTime(fat), 10
				r.Attrs["fulfilled_at"], r.Attrs["fulfilled_value"] = formatTime(fat), 10
			}
		}
	}
}

func (x ref) resolve(db *store) *resource { return db.get(x.Type, x.ID) }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (sd *seeder) emails(p, coach *resource) {
	rng := sd.db.rng
	kinds := []string{"invitation", "reminder", "weekly-summary"}
	for j := range 2 {
		at := sd.between(p.Created, sd.anchor.Add(-time.Hour))
		email, _ := p.Attrs["email_address"].(string)
		sd.insert("email_history", at, map[string]any{
			"email_address":  email,
			"email_type":     kinds[(j+rng.IntN(2))%len(kinds)],
			"send_time":      formatTime(at),
			"status_times":   map[string]any{"sent": formatTime(at), "delivered": formatTime(at.Add(2 * time.Second))},
			"twine_email_id": sd.db.randomHex(12),
		}, map[string]any{"receiver": toRef(p), "sender": toRef(coach)})
	}
}
