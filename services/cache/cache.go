// Package cache wraps Redis as the platform uses it: a read-through cache that is
// never the only copy, pub/sub for live updates, and a fast path for dedup. Every
// failure here degrades to the slower path; none is returned as a wrong answer.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache is a Redis client with the platform's conventions.
type Cache struct {
	R *redis.Client
}

// Connect parses the URL and checks that Redis answers, so a missing Redis is
// named in one line at start-up.
func Connect(ctx context.Context, url string) (*Cache, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: invalid REDIS_URL: %w", err)
	}
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	c := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis at %s is not reachable (%v); `make run` starts it", opt.Addr, err)
	}
	return &Cache{R: c}, nil
}

// Close closes the client.
func (c *Cache) Close() error { return c.R.Close() }

// GetJSON loads key into dst. It reports false on a miss and on any Redis
// failure (logged), so callers fall back to Postgres.
func (c *Cache) GetJSON(ctx context.Context, key string, dst any) bool {
	if c == nil {
		return false
	}
	b, err := c.R.Get(ctx, key).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			slog.WarnContext(ctx, "cache read failed", "key", key, "err", err)
		}
		return false
	}
	if err := json.Unmarshal(b, dst); err != nil {
		slog.WarnContext(ctx, "cache entry unreadable", "key", key, "err", err)
		return false
	}
	return true
}

// SetJSON stores v under key for ttl; a failure is logged, not returned, because
// the cache is an optimisation.
func (c *Cache) SetJSON(ctx context.Context, key string, v any, ttl time.Duration) {
	if c == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		slog.WarnContext(ctx, "cache encode failed", "key", key, "err", err)
		return
	}
	if err := c.R.Set(ctx, key, b, ttl).Err(); err != nil {
		slog.WarnContext(ctx, "cache write failed", "key", key, "err", err)
	}
}

// Del invalidates keys. Its error is returned because a failed invalidation of a
// security-relevant entry (a revoked token) must be known to the caller.
func (c *Cache) Del(ctx context.Context, keys ...string) error {
	if c == nil || len(keys) == 0 {
		return nil
	}
	return c.R.Del(ctx, keys...).Err()
}

// Publish sends a message on a channel; live updates are best effort because
// subscribers replay from Postgres.
func (c *Cache) Publish(ctx context.Context, channel string, v any) {
	if c == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		slog.WarnContext(ctx, "publish encode failed", "channel", channel, "err", err)
		return
	}
	if err := c.R.Publish(ctx, channel, b).Err(); err != nil {
		slog.WarnContext(ctx, "publish failed", "channel", channel, "err", err)
	}
}

// Ping reports whether Redis answers.
func (c *Cache) Ping(ctx context.Context) error { return c.R.Ping(ctx).Err() }
