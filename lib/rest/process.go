package rest

import (
	"context"
	"errors"

	"github.com/fitbitplus/connector/lib/component"
)

// Process runs the operation for one message. Placeholder until lib/rest is built.
func (op *Operation) Process(ctx context.Context, ex *component.Exec) error {
	return errors.New("not built yet")
}
