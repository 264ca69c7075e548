package platform

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identifiers/remote"
)

// RegisterNode registers the platform's node prefix at its node URL with the
// upper node, when HANDLE_UPPER_NODE and HANDLE_UPPER_TOKEN are set, trying
// again every retry until it succeeds or ctx ends (the upper node may start
// after the gateway). It returns at once; the outcome is logged.
func RegisterNode(ctx context.Context, cfg config.Config, retry time.Duration) {
	if cfg.UpperNode == "" || cfg.UpperToken == "" {
		return
	}
	go func() {
		c := &http.Client{Timeout: max(cfg.ResolveHopTimeout, time.Second)}
		for {
			err := remote.Register(ctx, c, cfg.UpperNode, cfg.UpperToken, cfg.NodePrefix, cfg.NodeURL)
			if err == nil {
				slog.InfoContext(ctx, "node prefix registered with the upper node", "prefix", cfg.NodePrefix, "site", cfg.NodeURL, "upper", cfg.UpperNode)
				return
			}
			slog.WarnContext(ctx, "node prefix not registered with the upper node; trying again", "err", err, "in", retry.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
		}
	}()
}
