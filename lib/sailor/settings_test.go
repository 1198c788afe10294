package sailor

import (
	"strings"
	"testing"
	"time"
)

// testEnv is the environment of the official sailor's integration helpers.
func testEnv() map[string]string {
	return map[string]string{
		"ELASTICIO_FLOW_ID": "5559edd38968ec0736000003", "ELASTICIO_STEP_ID": "step_1",
		"ELASTICIO_EXEC_ID": "some-exec-id", "ELASTICIO_WORKSPACE_ID": "5559edd38968ec073600683",
		"ELASTICIO_CONTAINER_ID": "dc1c8c3f-f9cb-49e1-a6b8-716af9e15948", "ELASTICIO_USER_ID": "5559edd38968ec0736000002",
		"ELASTICIO_COMP_ID": "5559edd38968ec0736000456", "ELASTICIO_FUNCTION": "echo",
		"ELASTICIO_API_URI": "http://127.0.0.1:1244/", "ELASTICIO_API_USERNAME": "test@test.com", "ELASTICIO_API_KEY": "5559edd",
		"ELASTICIO_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672", "ELASTICIO_LISTEN_MESSAGES_ON": "P:messages",
		"ELASTICIO_PUBLISH_MESSAGES_TO": "P:exchange", "ELASTICIO_DATA_ROUTING_KEY": "P:routing_key:message",
		"ELASTICIO_ERROR_ROUTING_KEY": "P:routing_key:error", "ELASTICIO_REBOUND_ROUTING_KEY": "P:routing_key:rebound",
		"ELASTICIO_SNAPSHOT_ROUTING_KEY": "P:routing_key:snapshot",
		"ELASTICIO_MESSAGE_CRYPTO_IV":    "iv=any16_symbols", "ELASTICIO_MESSAGE_CRYPTO_PASSWORD": "testCryptoPassword",
	}
}

func getenvOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadSettingsDefaults(t *testing.T) {
	s, err := LoadSettings(getenvOf(testEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if s.APIURI != "http://127.0.0.1:1244" {
		t.Errorf("APIURI = %q, want the trailing slash stripped", s.APIURI)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ReboundInitialExpiration", s.ReboundInitialExpiration, 15 * time.Second},
		{"ReboundLimit", s.ReboundLimit, 20},
		{"Prefetch", s.Prefetch, 1},
		{"DataRateLimit", s.DataRateLimit, 10},
		{"ErrorRateLimit", s.ErrorRateLimit, 2},
		{"SnapshotRateLimit", s.SnapshotRateLimit, 2},
		{"RateInterval", s.RateInterval, 100 * time.Millisecond},
		{"PublishRetryAttempts", s.PublishRetryAttempts, 0},
		{"PublishMaxRetryDelay", s.PublishMaxRetryDelay, 300 * time.Second},
		{"OutgoingMessageSizeLimit", s.OutgoingMessageSizeLimit, 10485760},
		{"ProtocolVersion", s.ProtocolVersion, 1},
		{"ReconnectAttempts", s.ReconnectAttempts, 3},
		{"ReconnectTimeout", s.ReconnectTimeout, 100 * time.Millisecond},
		{"PersistentMessages", s.PersistentMessages, false},
		{"LogLevel", s.LogLevel, "info"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if s.LogContext["ELASTICIO_FLOW_ID"] != "5559edd38968ec0736000003" || s.LogContext["ELASTICIO_API_KEY"] != "" {
		t.Errorf("LogContext = %v", s.LogContext)
	}
}

func TestLoadSettingsReportsEveryMissingVariable(t *testing.T) {
	_, err := LoadSettings(getenvOf(map[string]string{}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range append(append([]string{}, requiredAlways...), requiredForMessages...) {
		if !strings.Contains(err.Error(), name+" is missing") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestLoadSettingsHookShutdownRelaxesAMQPAndCrypto(t *testing.T) {
	env := testEnv()
	for _, name := range requiredForMessages {
		delete(env, name)
	}
	env["ELASTICIO_HOOK_SHUTDOWN"] = "1"
	s, err := LoadSettings(getenvOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if !s.HookShutdown {
		t.Error("HookShutdown not set")
	}
	delete(env, "ELASTICIO_API_KEY")
	if _, err := LoadSettings(getenvOf(env)); err == nil || !strings.Contains(err.Error(), "ELASTICIO_API_KEY is missing") {
		t.Errorf("err = %v, want API key missing", err)
	}
}

func TestLoadSettingsNumberRules(t *testing.T) {
	cases := map[string]int{
		"0": 20, "": 20, "abc": 20, "Infinity": 20, "7": 7, "12abc": 12, "  42": 42, "3.9": 3, "0x10": 16, "+5": 5,
	}
	for in, want := range cases {
		env := testEnv()
		env["ELASTICIO_REBOUND_LIMIT"] = in
		s, err := LoadSettings(getenvOf(env))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if s.ReboundLimit != want {
			t.Errorf("REBOUND_LIMIT=%q gives %d, want %d", in, s.ReboundLimit, want)
		}
	}
	env := testEnv()
	env["ELASTICIO_RABBITMQ_PREFETCH_SAILOR"] = "-3"
	if _, err := LoadSettings(getenvOf(env)); err == nil {
		t.Error("negative prefetch accepted")
	}
}

func TestLoadSettingsBooleanRules(t *testing.T) {
	cases := map[string]bool{"": false, "false": false, "true": true, "0": true, "no": true, "FALSE": true}
	for in, want := range cases {
		env := testEnv()
		env["ELASTICIO_AMQP_PERSISTENT_MESSAGES"] = in
		s, err := LoadSettings(getenvOf(env))
		if err != nil {
			t.Fatal(err)
		}
		if s.PersistentMessages != want {
			t.Errorf("AMQP_PERSISTENT_MESSAGES=%q gives %v, want %v", in, s.PersistentMessages, want)
		}
	}
}

func TestLoadSettingsAdditionalVarsForHeaders(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS"] = "ELASTICIO_FIRST, ELASTICIO_SECOND_ELASTICIO_ENV ,ELASTICIO_NOT_PRESENT"
	env["ELASTICIO_FIRST"] = "first"
	env["ELASTICIO_SECOND_ELASTICIO_ENV"] = "second"
	s, err := LoadSettings(getenvOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"first": "first", "secondElasticioEnv": "second"}
	if len(s.AdditionalHeaders) != len(want) {
		t.Fatalf("AdditionalHeaders = %v, want %v", s.AdditionalHeaders, want)
	}
	for k, v := range want {
		if s.AdditionalHeaders[k] != v {
			t.Errorf("header %s = %q, want %q", k, s.AdditionalHeaders[k], v)
		}
	}
}

func TestLoadSettingsInvalidValues(t *testing.T) {
	env := testEnv()
	env["ELASTICIO_MESSAGE_CRYPTO_IV"] = "short"
	env["ELASTICIO_PROTOCOL_VERSION"] = "3"
	env["LOG_LEVEL"] = "loud"
	_, err := LoadSettings(getenvOf(env))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"CRYPTO_IV must be 16 bytes", "PROTOCOL_VERSION must be 1 or 2", "LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
