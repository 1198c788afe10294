package main

import (
	"context"
	"errors"
)

// cmdGenerate is owned by the helper that builds this command; replace this file.
func cmdGenerate(ctx context.Context, c *cli, args []string) error {
	return errors.New("not built yet")
}
