package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestInts(t *testing.T) {
	got, err := ints("1, 2,4")
	if err != nil || !slices.Equal(got, []int{1, 2, 4}) {
		t.Errorf("ints = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-2"} {
		if _, err := ints(bad); err == nil {
			t.Errorf("ints(%q) accepted", bad)
		}
	}
}

func TestRunRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--n", "0"}, {"--prefetch", "a"}, {"--workers", "0"}, {"extra"}, {"--nope"}} {
		var stderr strings.Builder
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}
