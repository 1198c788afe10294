package main

import (
	"context"
	"errors"
)

// cmdRun is owned by the helper that builds this command; replace this file.
func cmdRun(ctx context.Context, c *cli, args []string) error {
	return errors.New("not built yet")
}
