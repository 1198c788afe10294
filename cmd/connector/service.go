package main

import (
	"context"
	"errors"
)

// cmdService is owned by the helper that builds this command; replace this file.
func cmdService(ctx context.Context, c *cli, args []string) error {
	return errors.New("not built yet")
}
