package actions

import (
	"slices"
	"testing"

	connector "github.com/fitbitplus/connector"
	"github.com/fitbitplus/connector/lib/manifest"
	"github.com/fitbitplus/connector/lib/rest"
)

// The paged list actions offer exactly the step fields lib/rest reads, and no
// other action offers them.
func TestPagedActionsOfferThePagingFields(t *testing.T) {
	c, err := manifest.Parse(connector.ComponentJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rest.FieldFetchAll, rest.FieldMaxItems, rest.FieldMaxPages, rest.FieldSplit}
	slices.Sort(want)
	paged := 0
	for name, fn := range Registry {
		op := fn.(*rest.Operation)
		var got []string
		for f := range c.Actions[name].Fields {
			got = append(got, f)
		}
		slices.Sort(got)
		if len(op.Paging) == 0 {
			if len(got) != 0 {
				t.Errorf("%s is not paged but offers fields %v", name, got)
			}
			continue
		}
		paged++
		if !slices.Equal(got, want) {
			t.Errorf("%s offers fields %v, want %v", name, got, want)
		}
	}
	if paged != 5 {
		t.Errorf("%d paged list actions, want the 5 of the API", paged)
	}
}
