package sailor

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
)

// DefaultIncomingMessageSizeLimit bounds an input (ELASTICIO_INCOMING_MESSAGE_SIZE_LIMIT):
// the platform's message limit.
const DefaultIncomingMessageSizeLimit = 10 << 20

// Settings is the worker's configuration, read once from the ELASTICIO_*
// environment by LoadSettings with the official sailor's parsing rules.
type Settings struct {
	// Identity of the step (always required).
	FlowID, ExecID, StepID, ContainerID, WorkspaceID, UserID, CompID, Function string
	// Platform REST API (always required).
	APIURI, APIUsername, APIKey string

	// AMQP and crypto (required unless HOOK_SHUTDOWN is set).
	AMQPURI, ListenMessagesOn, PublishMessagesTo                           string
	DataRoutingKey, ErrorRoutingKey, ReboundRoutingKey, SnapshotRoutingKey string
	CryptoIV, CryptoPassword                                               string

	ReboundInitialExpiration   time.Duration
	ReboundLimit               int
	ComponentPath              string
	Prefetch                   int
	StartupRequired            bool
	HookShutdown               bool
	APIRetryAttempts           int
	APIRetryDelay              time.Duration
	DataRateLimit              int
	ErrorRateLimit             int
	SnapshotRateLimit          int
	RateInterval               time.Duration
	PublishRetryDelay          time.Duration
	PublishRetryAttempts       int // 0 = infinite
	PublishMaxRetryDelay       time.Duration
	PersistentMessages         bool
	OutgoingMessageSizeLimit   int
	IncomingMessageSizeLimit   int
	NoSelfPassthrough          bool
	ProtocolVersion            int
	NoErrorReplies             bool
	InputFormat                string
	ObjectStorageURI           string
	ObjectStorageToken         string
	ObjectStorageSizeThreshold int
	EmitLightweightMessage     bool
	ProcessingTimeout          time.Duration // 0: none
	ReconnectAttempts          int
	ReconnectTimeout           time.Duration

	// AdditionalHeaders are the ADDITIONAL_VARS_FOR_HEADERS, by header name.
	AdditionalHeaders map[string]string
	// LogContext are the ELASTICIO_* logging context fields that are set.
	LogContext map[string]string
	// LogLevel is LOG_LEVEL (default "info").
	LogLevel string
}

var requiredAlways = []string{
	"ELASTICIO_FLOW_ID", "ELASTICIO_EXEC_ID", "ELASTICIO_STEP_ID", "ELASTICIO_CONTAINER_ID",
	"ELASTICIO_WORKSPACE_ID", "ELASTICIO_USER_ID", "ELASTICIO_COMP_ID", "ELASTICIO_FUNCTION",
	"ELASTICIO_API_URI", "ELASTICIO_API_USERNAME", "ELASTICIO_API_KEY",
}

var requiredForMessages = []string{
	"ELASTICIO_AMQP_URI", "ELASTICIO_LISTEN_MESSAGES_ON", "ELASTICIO_PUBLISH_MESSAGES_TO",
	"ELASTICIO_DATA_ROUTING_KEY", "ELASTICIO_ERROR_ROUTING_KEY", "ELASTICIO_REBOUND_ROUTING_KEY",
	"ELASTICIO_SNAPSHOT_ROUTING_KEY", "ELASTICIO_MESSAGE_CRYPTO_IV", "ELASTICIO_MESSAGE_CRYPTO_PASSWORD",
}

var logContextVars = []string{
	"ELASTICIO_API_USERNAME", "ELASTICIO_COMP_ID", "ELASTICIO_COMP_NAME", "ELASTICIO_CONTAINER_ID",
	"ELASTICIO_CONTRACT_ID", "ELASTICIO_EXEC_ID", "ELASTICIO_EXEC_TYPE", "ELASTICIO_EXECUTION_RESULT_ID",
	"ELASTICIO_FLOW_ID", "ELASTICIO_FLOW_VERSION", "ELASTICIO_FUNCTION", "ELASTICIO_STEP_ID",
	"ELASTICIO_TASK_USER_EMAIL", "ELASTICIO_TENANT_ID", "ELASTICIO_USER_ID", "ELASTICIO_WORKSPACE_ID",
}

// LoadSettings reads the message-mode environment. Every missing required
// variable (and every invalid value) is reported in one error.
func LoadSettings(getenv func(string) string) (Settings, error) {
	e := envReader{getenv: getenv}
	required := requiredAlways
	// N tests the raw string's truthiness here, not the parsed boolean.
	if getenv("ELASTICIO_HOOK_SHUTDOWN") == "" {
		required = append(append([]string{}, requiredAlways...), requiredForMessages...)
	}
	for _, name := range required {
		if getenv(name) == "" {
			e.errs = append(e.errs, fmt.Errorf("%s is missing", name))
		}
	}
	s := Settings{
		FlowID: getenv("ELASTICIO_FLOW_ID"), ExecID: getenv("ELASTICIO_EXEC_ID"),
		StepID: getenv("ELASTICIO_STEP_ID"), ContainerID: getenv("ELASTICIO_CONTAINER_ID"),
		WorkspaceID: getenv("ELASTICIO_WORKSPACE_ID"), UserID: getenv("ELASTICIO_USER_ID"),
		CompID: getenv("ELASTICIO_COMP_ID"), Function: getenv("ELASTICIO_FUNCTION"),
		APIURI:      strings.TrimRight(getenv("ELASTICIO_API_URI"), "/"),
		APIUsername: getenv("ELASTICIO_API_USERNAME"), APIKey: getenv("ELASTICIO_API_KEY"),

		AMQPURI: getenv("ELASTICIO_AMQP_URI"), ListenMessagesOn: getenv("ELASTICIO_LISTEN_MESSAGES_ON"),
		PublishMessagesTo:  getenv("ELASTICIO_PUBLISH_MESSAGES_TO"),
		DataRoutingKey:     getenv("ELASTICIO_DATA_ROUTING_KEY"),
		ErrorRoutingKey:    getenv("ELASTICIO_ERROR_ROUTING_KEY"),
		ReboundRoutingKey:  getenv("ELASTICIO_REBOUND_ROUTING_KEY"),
		SnapshotRoutingKey: getenv("ELASTICIO_SNAPSHOT_ROUTING_KEY"),
		CryptoIV:           getenv("ELASTICIO_MESSAGE_CRYPTO_IV"),
		CryptoPassword:     getenv("ELASTICIO_MESSAGE_CRYPTO_PASSWORD"),

		ReboundInitialExpiration:   e.millis("ELASTICIO_REBOUND_INITIAL_EXPIRATION", 15000),
		ReboundLimit:               e.number("ELASTICIO_REBOUND_LIMIT", 20),
		ComponentPath:              getenv("ELASTICIO_COMPONENT_PATH"),
		Prefetch:                   e.number("ELASTICIO_RABBITMQ_PREFETCH_SAILOR", 1),
		StartupRequired:            e.boolean("ELASTICIO_STARTUP_REQUIRED", false),
		HookShutdown:               e.boolean("ELASTICIO_HOOK_SHUTDOWN", false),
		APIRetryAttempts:           e.number("ELASTICIO_API_REQUEST_RETRY_ATTEMPTS", 3),
		APIRetryDelay:              e.millis("ELASTICIO_API_REQUEST_RETRY_DELAY", 100),
		DataRateLimit:              e.number("ELASTICIO_DATA_RATE_LIMIT", 10),
		ErrorRateLimit:             e.number("ELASTICIO_ERROR_RATE_LIMIT", 2),
		SnapshotRateLimit:          e.number("ELASTICIO_SNAPSHOT_RATE_LIMIT", 2),
		RateInterval:               e.millis("ELASTICIO_RATE_INTERVAL", 100),
		PublishRetryDelay:          e.millis("ELASTICIO_AMQP_PUBLISH_RETRY_DELAY", 100),
		PublishRetryAttempts:       e.number("ELASTICIO_AMQP_PUBLISH_RETRY_ATTEMPTS", 0),
		PublishMaxRetryDelay:       e.millis("ELASTICIO_AMQP_PUBLISH_MAX_RETRY_DELAY", 300000),
		PersistentMessages:         e.boolean("ELASTICIO_AMQP_PERSISTENT_MESSAGES", false),
		OutgoingMessageSizeLimit:   e.number("ELASTICIO_OUTGOING_MESSAGE_SIZE_LIMIT", 10485760),
		IncomingMessageSizeLimit:   e.number("ELASTICIO_INCOMING_MESSAGE_SIZE_LIMIT", 10485760),
		NoSelfPassthrough:          e.boolean("ELASTICIO_NO_SELF_PASSTRHOUGH", false),
		ProtocolVersion:            e.number("ELASTICIO_PROTOCOL_VERSION", 1),
		NoErrorReplies:             e.boolean("ELASTICIO_NO_ERROR_REPLIES", false),
		InputFormat:                e.str("ELASTICIO_INPUT_FORMAT", "default"),
		ObjectStorageURI:           strings.TrimRight(getenv("ELASTICIO_OBJECT_STORAGE_URI"), "/"),
		ObjectStorageToken:         getenv("ELASTICIO_OBJECT_STORAGE_TOKEN"),
		ObjectStorageSizeThreshold: e.number("ELASTICIO_OBJECT_STORAGE_SIZE_THRESHOLD", 1048576),
		EmitLightweightMessage:     e.boolean("ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE", false),
		ProcessingTimeout:          e.millis("ELASTICIO_MESSAGE_PROCESSING_TIMEOUT", 0),
		ReconnectAttempts:          e.number("ELASTICIO_AMQP_RECONNECT_ATTEMPTS", 3),
		ReconnectTimeout:           e.millis("ELASTICIO_AMQP_RECONNECT_TIMEOUT", 100),
		AdditionalHeaders:          additionalHeaders(getenv),
		LogContext:                 map[string]string{},
		LogLevel:                   e.str("LOG_LEVEL", "info"),
	}
	for _, name := range logContextVars {
		if v := getenv(name); v != "" {
			s.LogContext[name] = v
		}
	}
	if s.CryptoIV != "" && len(s.CryptoIV) != 16 {
		e.errs = append(e.errs, fmt.Errorf("ELASTICIO_MESSAGE_CRYPTO_IV must be 16 bytes, got %d", len(s.CryptoIV)))
	}
	if s.ProtocolVersion != 1 && s.ProtocolVersion != 2 {
		e.errs = append(e.errs, fmt.Errorf("ELASTICIO_PROTOCOL_VERSION must be 1 or 2, got %d", s.ProtocolVersion))
	}
	if s.InputFormat != "default" && s.InputFormat != "error" {
		e.errs = append(e.errs, fmt.Errorf("ELASTICIO_INPUT_FORMAT %q is not one of default, error", s.InputFormat))
	}
	if s.EmitLightweightMessage && s.ObjectStorageURI == "" {
		e.errs = append(e.errs, errors.New("ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE needs ELASTICIO_OBJECT_STORAGE_URI"))
	}
	if _, err := parseLogLevel(s.LogLevel); err != nil {
		e.errs = append(e.errs, err)
	}
	if len(e.errs) > 0 {
		return s, envError(e.errs)
	}
	return s, nil
}

// envError lists every problem of the environment on one line.
type envError []error

func (e envError) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return "invalid environment: " + strings.Join(msgs, "; ")
}

func (e envError) Unwrap() []error { return e }

// Secrets returns the values of the settings that must never appear in logs or messages.
func (s Settings) Secrets() []string {
	return []string{s.CryptoPassword, s.APIKey, s.ObjectStorageToken}
}

type envReader struct {
	getenv func(string) string
	errs   []error
}

// number follows the official sailor: parseInt(v) || default. Negative values are refused.
func (e *envReader) number(name string, def int) int {
	n, ok := jsParseInt(e.getenv(name))
	if !ok || n == 0 {
		return def
	}
	if n < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s must not be negative", name))
		return def
	}
	return n
}

func (e *envReader) millis(name string, def int) time.Duration {
	return time.Duration(e.number(name, def)) * time.Millisecond
}

// boolean follows the official sailor: unset → default, "" or "false" → false, else true.
// An empty value cannot be told from an unset one here, so it gives the default.
func (e *envReader) boolean(name string, def bool) bool {
	switch v := e.getenv(name); v {
	case "":
		return def
	case "false":
		return false
	default:
		return true
	}
}

func (e *envReader) str(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// jsParseInt mimics JavaScript's parseInt(s) without a radix: leading
// whitespace, an optional sign, an optional 0x prefix, then as many digits as
// there are. It reports false where JavaScript gives NaN.
func jsParseInt(s string) (int, bool) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base = 16
		s = s[2:]
	}
	n, digits := 0, 0
	for _, r := range s {
		d := digitValue(r)
		if d < 0 || d >= base {
			break
		}
		if n > (math.MaxInt32-d)/base {
			n = math.MaxInt32 // clamp: larger values make no sense here
		} else {
			n = n*base + d
		}
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func digitValue(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= 'a' && r <= 'f':
		return int(r-'a') + 10
	case r >= 'A' && r <= 'F':
		return int(r-'A') + 10
	}
	return -1
}

// additionalHeaders reads ADDITIONAL_VARS_FOR_HEADERS: a comma list of env
// names; each becomes a header named by its camelCased name without the
// ELASTICIO_ prefix. Unset variables are left out.
func additionalHeaders(getenv func(string) string) map[string]string {
	out := map[string]string{}
	for _, name := range strings.Split(getenv("ELASTICIO_ADDITIONAL_VARS_FOR_HEADERS"), ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		v := getenv(name)
		if v == "" {
			continue
		}
		out[camelCase(strings.TrimPrefix(name, "ELASTICIO_"))] = v
	}
	return out
}

// camelCase turns SECOND_ELASTICIO_ENV into secondElasticioEnv.
func camelCase(s string) string {
	var b strings.Builder
	for i, word := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == ' ' }) {
		word = strings.ToLower(word)
		if i > 0 && word != "" {
			word = strings.ToUpper(word[:1]) + word[1:]
		}
		b.WriteString(word)
	}
	return b.String()
}
