package sandbox

import (
	"net/http"
	"slices"
)

// ---- plans: summaries, actions, bundles ----

func checkActionAttrs(it *inResource) error {
	return firstError(it.checkTimes("effective_from", "effective_to"), it.checkKind("title", "string"),
		it.checkEnum("type", "other_lifestyle"), it.checkKind("tracking", "boolean"),
		it.checkKind("metric_required", "boolean"), it.checkKind("metrics", "array"), it.checkKind("windows", "array"),
		it.checkKind("identifiers", "array"))
}

func createAction(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("action"), it.required("effective_from", "title", "type"), checkActionAttrs(it)); err != nil {
		return nil, err
	}
	plan, err := c.relOne(it, "plan", true, "patient_plan_summary")
	if err != nil {
		return nil, err
	}
	a := c.s.db.insert("action", plan.Org, c.now, cleanAttrs(it.Attributes), map[string]any{"plan": toRef(plan)})
	plan.Rels["actions"] = append(slices.Clone(plan.many("actions")), toRef(a))
	c.touch(plan)
	return c.singleStatus(http.StatusCreated, a)
}

func updateAction(c *call) (*reply, error) {
	a, it, err := c.patchTarget("action", checkActionAttrs)
	if err != nil {
		return nil, err
	}
	a.Attrs = mergeAttrs(a.Attrs, it.Attributes)
	c.touch(a)
	return c.single(a)
}

func checkBundleAttrs(it *inResource) error {
	return firstError(it.checkTimes("effective_from", "effective_to"), it.checkKind("title", "string"),
		it.checkKind("type", "string"))
}

func createBundle(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("bundle"), it.required("effective_from", "title", "type"), checkBundleAttrs(it)); err != nil {
		return nil, err
	}
	plan, err := c.relOne(it, "plan", true, "patient_plan_summary")
	if err != nil {
		return nil, err
	}
	actions, _, err := c.relMany(it, "actions", "action")
	if err != nil {
		return nil, err
	}
	bu := c.s.db.insert("bundle", plan.Org, c.now, cleanAttrs(it.Attributes),
		map[string]any{"plan": toRef(plan), "actions": toRefs(actions)})
	plan.Rels["bundles"] = append(slices.Clone(plan.many("bundles")), toRef(bu))
	c.touch(plan)
	return c.singleStatus(http.StatusOK, bu)
}

func updateBundle(c *call) (*reply, error) {
	bu, it, err := c.patchTarget("bundle", checkBundleAttrs)
	if err != nil {
		return nil, err
	}
	actions, has, err := c.relMany(it, "actions", "action")
	if err != nil {
		return nil, err
	}
	bu.Attrs = mergeAttrs(bu.Attrs, it.Attributes)
	if has {
		bu.Rels["actions"] = toRefs(actions)
	}
	c.touch(bu)
	return c.single(bu)
}

func updatePlanSummary(c *call) (*reply, error) {
	plan, it, err := c.patchTarget("patient_plan_summary", func(it *inResource) error {
		return firstError(it.checkTimes("effective_from"), it.checkKind("time_zone", "string"),
			it.checkKind("adherence", "object"), it.checkKind("critical", "object"),
			it.checkKind("window_notification_times", "object"), it.checkKind("window_order", "array"))
	})
	if err != nil {
		return nil, err
	}
	plan.Attrs = mergeAttrs(plan.Attrs, it.Attributes)
	c.touch(plan)
	return c.single(plan)
}

// ---- rewards ----

func fetchRewardPrograms(c *call) (*reply, error) {
	v, err := c.requireFilter("filter[groups]")
	if err != nil {
		return nil, err
	}
	groups := splitList(v)
	return c.listAll(filterItems(c.s.db.table("reward_program").order, func(r *resource) bool {
		return slices.Contains(groups, r.one("group"))
	}))
}

func createRewardProgram(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("reward_program"), it.required("budget_value", "end_at", "name", "start_at"),
		it.checkKind("budget_value", "number"), it.checkKind("name", "string"), it.checkTimes("start_at", "end_at"),
		it.checkEnum("budget_unit", "dollar", "point", "credit"), it.checkKind("frozen", "boolean"),
		it.checkKind("fulfill_as_earned", "boolean"), it.checkKind("duration_active", "number")); err != nil {
		return nil, err
	}
	g, err := c.relOne(it, "group", true, "group")
	if err != nil {
		return nil, err
	}
	p := c.s.db.insert("reward_program", g.Org, c.now, cleanAttrs(it.Attributes), map[string]any{"group": toRef(g)})
	return c.singleStatus(http.StatusOK, p)
}

func fetchRewardProgramGroup(c *call) (*reply, error) {
	p, err := c.byPathID("reward_program")
	if err != nil {
		return nil, err
	}
	g := c.s.db.get("group", p.one("group"))
	if g == nil {
		return nil, notFound("group", p.one("group"))
	}
	return c.single(g)
}

func createRewardProgramActivation(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("reward_program_activation"), it.required("activated_at"),
		it.checkTimes("activated_at", "deactivated_at", "expires_at"), it.checkKind("active", "boolean")); err != nil {
		return nil, err
	}
	p, err := c.relOne(it, "patient", true, "patient")
	if err != nil {
		return nil, err
	}
	prog, err := c.relOne(it, "reward_program", true, "reward_program")
	if err != nil {
		return nil, err
	}
	for _, a := range c.s.db.table("reward_program_activation").byOwner[p.ID] {
		if a.one("reward_program") == prog.ID {
			return nil, invalidBody(it.relPtr("reward_program"), "the patient already has an activation of this reward program")
		}
	}
	attrs := cleanAttrs(it.Attributes)
	setDefault(attrs, "active", true)
	setDefault(attrs, "allocated_count", 0)
	setDefault(attrs, "earned_count", 0)
	if u, ok := prog.Attrs["budget_unit"]; ok {
		setDefault(attrs, "budget_unit", u)
	}
	a := c.s.db.insert("reward_program_activation", p.Org, c.now, attrs,
		map[string]any{"patient": toRef(p), "reward_program": toRef(prog)})
	return c.singleStatus(http.StatusOK, a)
}

func setDefault(attrs map[string]any, name string, v any) {
	if _, ok := attrs[name]; !ok {
		attrs[name] = v
	}
}

func fetchRewards(c *call) (*reply, error) {
	act, thread := c.query.Get("filter[reward_program_activation]"), c.query.Get("filter[thread]")
	return fetchByPatient("reward", func(c *call, r *resource) (bool, error) {
		return (act == "" || r.one("reward_program_activation") == act) && (thread == "" || r.Attrs["_thread"] == thread), nil
	})(c)
}

func createReward(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("reward"), it.required("allocated_at", "allocated_value", "description"),
		it.checkTimes("allocated_at", "earned_at", "fulfilled_at", "target_at"), it.checkKind("allocated_value", "number"),
		it.checkKind("description", "string")); err != nil {
		return nil, err
	}
	p, err := c.relOne(it, "patient", true, "patient")
	if err != nil {
		return nil, err
	}
	act, err := c.relOne(it, "reward_program_activation", false, "reward_program_activation")
	if err != nil {
		return nil, err
	}
	rels := map[string]any{"patient": toRef(p)}
	if act != nil {
		rels["reward_program_activation"] = toRef(act)
	}
	r := c.s.db.insert("reward", p.Org, c.now, cleanAttrs(it.Attributes), rels)
	return c.singleStatus(http.StatusOK, r)
}

func fetchRewardEarnings(c *call) (*reply, error) {
	gv, err := c.requireFilter("filter[groups]")
	if err != nil {
		return nil, err
	}
	if _, err := c.requireFilter("filter[patient]"); err != nil {
		return nil, err
	}
	groups := splitList(gv)
	var ready *bool
	if c.query.Has("filter[ready_for_fulfillment]") {
		v, err := parseBool("filter[ready_for_fulfillment]", c.query.Get("filter[ready_for_fulfillment]"))
		if err != nil {
			return nil, err
		}
		ready = &v
	}
	return fetchByPatient("reward_earning", func(c *call, e *resource) (bool, error) {
		if g := e.one("group"); g != "" {
			if !slices.Contains(groups, g) {
				return false, nil
			}
		} else if p := c.s.db.get("patient", e.Owner); p == nil || !inGroups(p, groups) {
			return false, nil
		}
		if ready != nil {
			r, _ := e.Attrs["ready_for_fulfillment"].(bool)
			_, fulfilled := e.Attrs["fulfilled_at"]
			return r == *ready && !fulfilled, nil
		}
		return true, nil
	})(c)
}

type earningInput struct {
	it                     *inResource
	reward, patient, group *resource
	activation             *resource
}

// createRewardEarning creates one earning or several (data array); a
// reward has at most one earning.
func createRewardEarning(c *call) (*reply, error) {
	b, err := c.decodeBody(true)
	if err != nil {
		return nil, err
	}
	var inputs []earningInput
	seen := map[string]bool{}
	for _, it := range b.items {
		if err := firstError(it.checkType("reward_earning"), it.required("earned_at", "earned_value"),
			it.checkTimes("earned_at", "fulfilled_at"), it.checkKind("earned_value", "number"),
			it.checkKind("ready_for_fulfillment", "boolean")); err != nil {
			return nil, err
		}
		in := earningInput{it: it}
		if in.reward, err = c.relOne(it, "reward", true, "reward"); err != nil {
			return nil, err
		}
		if in.patient, err = c.relOne(it, "patient", false, "patient"); err != nil {
			return nil, err
		}
		if in.group, err = c.relOne(it, "group", false, "group"); err != nil {
			return nil, err
		}
		if in.activation, err = c.relOne(it, "reward_program_activation", false, "reward_program_activation"); err != nil {
			return nil, err
		}
		if in.patient == nil {
			in.patient = c.s.db.get("patient", in.reward.one("patient"))
		}
		if in.activation == nil {
			in.activation = c.s.db.get("reward_program_activation", in.reward.one("reward_program_activation"))
		}
		if in.patient == nil {
			return nil, invalidBody(it.relPtr("patient"), "relationship patient is required")
		}
		if seen[in.reward.ID] || c.earningOf(in.reward.ID) != nil {
			return nil, invalidBody(it.relPtr("reward"), "the reward already has an earning")
		}
		seen[in.reward.ID] = true
		inputs = append(inputs, in)
	}
	out := make([]*resource, 0, len(inputs))
	for _, in := range inputs {
		attrs := cleanAttrs(in.it.Attributes)
		setDefault(attrs, "ready_for_fulfillment", false)
		rels := map[string]any{"reward": toRef(in.reward), "patient": toRef(in.patient)}
		if in.group != nil {
			rels["group"] = toRef(in.group)
		}
		if in.activation != nil {
			rels["reward_program_activation"] = toRef(in.activation)
		}
		e := c.s.db.insert("reward_earning", in.patient.Org, c.now, attrs, rels)
		in.reward.Attrs = mergeAttrs(in.reward.Attrs, map[string]any{
			"earned_at": attrs["earned_at"], "earned_value": attrs["earned_value"]})
		c.touch(in.reward)
		out = append(out, e)
	}
	if b.array {
		return c.many(http.StatusOK, out, nil), nil
	}
	return c.single(out[0])
}

func (c *call) earningOf(rewardID string) *resource {
	for _, e := range c.s.db.table("reward_earning").order {
		if e.one("reward") == rewardID {
			return e
		}
	}
	return nil
}

func createRewardEarningFulfillment(c *call) (*reply, error) {
	b, err := c.decodeBody(false)
	if err != nil {
		return nil, err
	}
	it := b.items[0]
	if err := firstError(it.checkType("reward_earning_fulfillment"), it.required("fulfilled_at", "fulfilled_value"),
		it.checkTimes("fulfilled_at"), it.checkKind("fulfilled_value", "number"),
		it.checkKind("fulfilled_unit", "string")); err != nil {
		return nil, err
	}
	e, err := c.relOne(it, "reward_earning", true, "reward_earning")
	if err != nil {
		return nil, err
	}
	p, err := c.relOne(it, "patient", false, "patient")
	if err != nil {
		return nil, err
	}
	if p == nil {
		if p = c.s.db.get("patient", e.Owner); p == nil {
			return nil, invalidBody(it.relPtr("patient"), "relationship patient is required")
		}
	}
	for _, f := range c.s.db.table("reward_earning_fulfillment").order {
		if f.one("reward_earning") == e.ID {
			return nil, invalidBody(it.relPtr("reward_earning"), "the reward earning already has a fulfillment")
		}
	}
	attrs := cleanAttrs(it.Attributes)
	f := c.s.db.insert("reward_earning_fulfillment", p.Org, c.now, attrs,
		map[string]any{"reward_earning": toRef(e), "patient": toRef(p)})
	e.Attrs = mergeAttrs(e.Attrs, map[string]any{"fulfilled_at": attrs["fulfilled_at"], "fulfilled_value": attrs["fulfilled_value"]})
	c.touch(e)
	if r := c.s.db.get("reward", e.one("reward")); r != nil {
		r.Attrs = mergeAttrs(r.Attrs, map[string]any{"fulfilled_at": attrs["fulfilled_at"], "fulfilled_value": attrs["fulfilled_value"]})
		c.touch(r)
	}
	return c.singleStatus(http.StatusOK, f)
}
