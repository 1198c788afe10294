package gen

import (
	"strings"
	"unicode"

	"github.com/fitbitplus/connector/lib/spec"
)

// goName is the exported Go identifier of an action: the id in PascalCase,
// prefixed with "Op" when it would start with a digit.
func goName(id string) string {
	name := spec.Pascal(id)
	if name != "" && unicode.IsDigit([]rune(name)[0]) {
		name = "Op" + name
	}
	return name
}

// snake is the id in lower snake case: words split at characters other than
// letters and digits, at lower-to-upper changes and at the end of an
// acronym ("fetchHTTPStatus2" → "fetch_http_status2").
func snake(id string) string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(id)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && len(cur) > 0 {
			prev := cur[len(cur)-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if !unicode.IsUpper(prev) || nextLower {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return strings.Join(words, "_")
}
