package server

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/masscustom/orchestrator/internal/platform"
)

// PlatformChecks are the readiness probes of the gateway's dependencies.
func PlatformChecks(p *platform.Platform) []Check {
	return []Check{
		{Name: "postgres", Ping: func(ctx context.Context) error { return p.DB.Ping(ctx) }},
		{Name: "redis", Ping: func(ctx context.Context) error { return p.Cache.Ping(ctx) }},
		{Name: "temporal", Ping: func(ctx context.Context) error {
			_, err := p.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
	}
}
