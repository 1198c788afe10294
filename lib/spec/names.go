package spec

import (
	"strings"
	"unicode"
)

// DeriveID names an operation that has no operationId: the lower-case
// method, then each path segment in PascalCase, a template segment "{x}" as
// "By" + X. Characters other than letters and digits separate words.
//
//	GET  /pets/{petId}/toys  →  getPetsByPetIdToys
//	POST /health_profile     →  postHealthProfile
//	GET  /                   →  getRoot
func DeriveID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	n := b.Len()
	for _, seg := range strings.Split(path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			b.WriteString("By")
			seg = strings.TrimSuffix(name, "}")
		}
		b.WriteString(Pascal(seg))
	}
	if b.Len() == n {
		b.WriteString("Root")
	}
	return b.String()
}

// Pascal joins the words of s, each with its first letter upper-cased;
// characters other than letters and digits separate words ("health_profile"
// → "HealthProfile", "petId" → "PetId").
func Pascal(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
