package main

import (
	"context"
	"errors"
)

// cmdDemo is owned by the helper that builds this command; replace this file.
func cmdDemo(ctx context.Context, c *cli, args []string) error {
	return errors.New("not built yet")
}
