package gen

import (
	"testing"

	connector "github.com/fitbitplus/connector"
)

// BenchmarkGenerateBundled generates the whole component from the bundled
// swagger.json: load, convert, validate, build the descriptor, render and
// gofmt 59 Go files.
func BenchmarkGenerateBundled(b *testing.B) {
	if len(connector.SwaggerJSON) < 100 {
		b.Skip("swagger.json is a placeholder")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(connector.SwaggerJSON, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
