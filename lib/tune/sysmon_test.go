package tune

import (
	"slices"
	"testing"
)

func TestWithSteadySysmon(t *testing.T) {
	cases := []struct {
		name   string
		env    []string
		want   []string
		reexec bool
	}{
		{"no GODEBUG", []string{"A=1"}, []string{"A=1", "GODEBUG=" + SteadySysmon}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + SteadySysmon, "A=1"}, true},
		{"other settings kept", []string{"GODEBUG=madvdontneed=1"}, []string{"GODEBUG=madvdontneed=1," + SteadySysmon}, true},
		{"operator's schedtrace wins", []string{"GODEBUG=gctrace=1,schedtrace=1000"}, []string{"GODEBUG=gctrace=1,schedtrace=1000"}, false},
		{"opt out", []string{"GODEBUG=schedtrace=0"}, []string{"GODEBUG=schedtrace=0"}, false},
		{"after a re-exec", []string{"GODEBUG=" + SteadySysmon}, []string{"GODEBUG=" + SteadySysmon}, false},
		{"first entry only, as the runtime", []string{"GODEBUG=gctrace=1", "GODEBUG=schedtrace=5"}, []string{"GODEBUG=gctrace=1," + SteadySysmon, "GODEBUG=schedtrace=5"}, true},
	}
	for _, c := range cases {
		in := slices.Clone(c.env)
		got, reexec := WithSteadySysmon(in)
		if reexec != c.reexec || !slices.Equal(got, c.want) {
			t.Errorf("%s: WithSteadySysmon(%q) = %q, %v; want %q, %v", c.name, c.env, got, reexec, c.want, c.reexec)
		}
		if !slices.Equal(in, c.env) {
			t.Errorf("%s: the input was modified: %q", c.name, in)
		}
	}
}
