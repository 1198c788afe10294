package sandbox

import "net/http"

// operations is the API: every operation of swagger.json, by operationId.
func operations() []*operation {
	get, post, patch, put, del := http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete
	planIncludes := []string{"actions", "bundles", "patient", "current_results"}
	return []*operation{
		{ID: "createAction", Method: post, Path: "/action", Write: true, Handle: createAction},
		{ID: "fetchAction", Method: get, Path: "/action/{id}", Handle: fetchOne("action")},
		{ID: "updateAction", Method: patch, Path: "/action/{id}", Write: true, Handle: updateAction},
		{ID: "createBundle", Method: post, Path: "/bundle", Write: true, Handle: createBundle},
		{ID: "fetchBundle", Method: get, Path: "/bundle/{id}", Handle: fetchOne("bundle")},
		{ID: "updateBundle", Method: patch, Path: "/bundle/{id}", Write: true, Handle: updateBundle},
		{ID: "fetchCalendarEvents", Method: get, Path: "/calendar_event", Paging: defaultPaging, Includes: []string{"owner"},
			Query: []string{"filter[patient]", "filter[groups]", "filter[organization]", "filter[attendees]", "filter[type]",
				"filter[completed]", "filter[start_at]", "filter[end_at]", "filter[completed_at]", "filter[created_at]",
				"filter[updated_at]"},
			Handle: fetchCalendarEvents},
		{ID: "createCalendarEvent", Method: post, Path: "/calendar_event", Write: true, Handle: createCalendarEvent},
		{ID: "deleteCalendarEvent", Method: del, Path: "/calendar_event/{id}", Write: true, Handle: deleteCalendarEvent},
		{ID: "fetchCalendarEvent", Method: get, Path: "/calendar_event/{id}", Handle: fetchOne("calendar_event")},
		{ID: "updateCalendarEvent", Method: patch, Path: "/calendar_event/{id}", Write: true, Handle: updateCalendarEvent},
		{ID: "createCalendarEventResponse", Method: post, Path: "/calendar_event_response", Write: true, Handle: createCalendarEventResponse},
		{ID: "fetchCoach", Method: get, Path: "/coach/{id}", Handle: fetchOne("coach")},
		{ID: "fetchEmailHistories", Method: get, Path: "/email_history",
			Query: []string{"filter[receiver]", "filter[sender]", "filter[emailType]", "sort"}, Handle: fetchEmailHistories},
		{ID: "fetchEmailHistory", Method: get, Path: "/email_history/{id}", Handle: fetchOne("email_history")},
		{ID: "fetchGroups", Method: get, Path: "/group", Query: []string{"filter[organization]", "filter[name]"}, Handle: fetchGroups},
		{ID: "createGroup", Method: post, Path: "/group", Write: true, Handle: createGroup},
		{ID: "fetchGroup", Method: get, Path: "/group/{id}", Handle: fetchOne("group")},
		{ID: "fetchHealthProfiles", Method: get, Path: "/health_profile", Paging: defaultPaging,
			Includes: []string{"patient", "questions"},
			Query:    []string{"filter[patient]", "filter[groups]", "filter[organization]"}, Handle: fetchByPatientScope("health_profile")},
		{ID: "fetchHealthProfile", Method: get, Path: "/health_profile/{id}", Includes: []string{"patient", "questions"},
			Handle: fetchOne("health_profile")},
		{ID: "fetchHealthProfileAnswers", Method: get, Path: "/health_profile_answer", Paging: answerPaging,
			Includes: []string{"patient"},
			Query:    []string{"filter[patient]", "filter[groups]", "filter[organization]"}, Handle: fetchByPatientScope("health_profile_answer")},
		{ID: "fetchHealthProfileAnswer", Method: get, Path: "/health_profile_answer/{id}", Includes: []string{"patient"},
			Handle: fetchOne("health_profile_answer")},
		{ID: "fetchHealthProfileQuestion", Method: get, Path: "/health_profile_question/{id}",
			Includes: []string{"question_definition", "answer"}, Handle: fetchOne("health_profile_question")},
		{ID: "fetchHealthQuestionDefinitions", Method: get, Path: "/health_question_definition", Handle: fetchAll("health_question_definition")},
		{ID: "fetchHealthQuestionDefinition", Method: get, Path: "/health_question_definition/{id}", Handle: fetchOne("health_question_definition")},
		{ID: "createToken", Method: post, Path: "/oauth/token", Public: true, Includes: []string{"groups", "organization"}, Handle: createToken},
		{ID: "fetchTokenGroups", Method: get, Path: "/oauth/token/{id}/groups", Handle: fetchTokenGroups},
		{ID: "fetchTokenOrganization", Method: get, Path: "/oauth/token/{id}/organization", Handle: fetchTokenOrganization},
		{ID: "fetchOrganization", Method: get, Path: "/organization/{id}", Handle: fetchOne("organization")},
		{ID: "fetchPatients", Method: get, Path: "/patient", Paging: defaultPaging,
			Query: []string{"filter[groups]", "filter[organization]", "filter[identifier][system]", "filter[identifier][value]",
				"filter[archived]", "filter[created_at]", "filter[updated_at]"},
			Handle: fetchPatients},
		{ID: "createPatient", Method: post, Path: "/patient", Write: true, Handle: createPatient},
		{ID: "upsertPatient", Method: put, Path: "/patient", Write: true, Handle: upsertPatient},
		{ID: "fetchPatient", Method: get, Path: "/patient/{id}", Handle: fetchOne("patient")},
		{ID: "updatePatient", Method: patch, Path: "/patient/{id}", Write: true, Handle: updatePatient},
		{ID: "fetchPatientCoaches", Method: get, Path: "/patient/{id}/coaches", Handle: fetchPatientRelated("coaches")},
		{ID: "fetchPatientGroups", Method: get, Path: "/patient/{id}/groups", Handle: fetchPatientRelated("groups")},
		{ID: "fetchPatientHealthMetrics", Method: get, Path: "/patient_health_metric", Paging: defaultPaging,
			Query: []string{"filter[patient]"}, Handle: fetchPatientHealthMetrics},
		{ID: "createPatientHealthMetric", Method: post, Path: "/patient_health_metric", Write: true, Handle: createPatientHealthMetric},
		{ID: "fetchPatientHealthMetric", Method: get, Path: "/patient_health_metric/{id}", Handle: fetchOne("patient_health_metric")},
		{ID: "fetchPatientPlanSummaries", Method: get, Path: "/patient_plan_summary", Includes: planIncludes,
			Query: []string{"filter[patient]"}, Handle: fetchByPatient("patient_plan_summary", nil)},
		{ID: "fetchPatientPlanSummary", Method: get, Path: "/patient_plan_summary/{id}", Includes: planIncludes,
			Handle: fetchOne("patient_plan_summary")},
		{ID: "updatePatientPlanSummary", Method: patch, Path: "/patient_plan_summary/{id}", Write: true, Handle: updatePlanSummary},
		{ID: "fetchRewards", Method: get, Path: "/reward",
			Query: []string{"filter[patient]", "filter[reward_program_activation]", "filter[thread]"}, Handle: fetchRewards},
		{ID: "createReward", Method: post, Path: "/reward", Write: true, Handle: createReward},
		{ID: "fetchReward", Method: get, Path: "/reward/{id}", Handle: fetchOne("reward")},
		{ID: "fetchRewardEarnings", Method: get, Path: "/reward_earning",
			Query: []string{"filter[groups]", "filter[patient]", "filter[ready_for_fulfillment]"}, Handle: fetchRewardEarnings},
		{ID: "createRewardEarning", Method: post, Path: "/reward_earning", Write: true, Handle: createRewardEarning},
		{ID: "fetchRewardEarning", Method: get, Path: "/reward_earning/{id}", Handle: fetchOne("reward_earning")},
		{ID: "fetchRewardEarningFulfillments", Method: get, Path: "/reward_earning_fulfillment",
			Query: []string{"filter[patient]"}, Handle: fetchByPatient("reward_earning_fulfillment", nil)},
		{ID: "createRewardEarningFulfillment", Method: post, Path: "/reward_earning_fulfillment", Write: true,
			Handle: createRewardEarningFulfillment},
		{ID: "fetchRewardEarningFulfillment", Method: get, Path: "/reward_earning_fulfillment/{id}",
			Handle: fetchOne("reward_earning_fulfillment")},
		{ID: "fetchRewardPrograms", Method: get, Path: "/reward_program", Query: []string{"filter[groups]"}, Handle: fetchRewardPrograms},
		{ID: "createRewardProgram", Method: post, Path: "/reward_program", Write: true, Handle: createRewardProgram},
		{ID: "fetchRewardProgram", Method: get, Path: "/reward_program/{id}", Handle: fetchOne("reward_program")},
		{ID: "fetchRewardProgramGroup", Method: get, Path: "/reward_program/{id}/group", Handle: fetchRewardProgramGroup},
		{ID: "fetchRewardProgramActivations", Method: get, Path: "/reward_program_activation",
			Query: []string{"filter[patient]"}, Handle: fetchByPatient("reward_program_activation", nil)},
		{ID: "createRewardProgramActivation", Method: post, Path: "/reward_program_activation", Write: true,
			Handle: createRewardProgramActivation},
		{ID: "fetchRewardProgramActivation", Method: get, Path: "/reward_program_activation/{id}",
			Handle: fetchOne("reward_program_activation")},
	}
}

// fetchAll answers every resource of a type, unpaged.
func fetchAll(typ string) func(*call) (*reply, error) {
	return func(c *call) (*reply, error) { return c.listAll(c.s.db.table(typ).order) }
}

// fetchByPatient answers the resources of a type owned by filter[patient]
// (required), further narrowed by keep when not nil.
func fetchByPatient(typ string, keep func(*call, *resource) (bool, error)) func(*call) (*reply, error) {
	return func(c *call) (*reply, error) {
		pid, err := c.requireFilter("filter[patient]")
		if err != nil {
			return nil, err
		}
		items := c.s.db.table(typ).byOwner[pid]
		if keep != nil {
			var kerr error
			items = filterItems(items, func(r *resource) bool {
				ok, err := keep(c, r)
				if err != nil && kerr == nil {
					kerr = err
				}
				return ok
			})
			if kerr != nil {
				return nil, kerr
			}
		}
		if c.op.Paging != nil {
			return c.listPaged(items)
		}
		return c.listAll(items)
	}
}
