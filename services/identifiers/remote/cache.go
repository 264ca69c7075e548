package remote

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisCache is a Cache in Redis.
type redisCache struct {
	r      *redis.Client
	prefix string
}

// NewRedisCache returns a Cache that keeps entries in Redis under keyPrefix
// (such as "handle-resolution:"; resolvers with different upper nodes need
// different prefixes). A Redis failure is logged and is a miss; a nil client
// caches nothing.
func NewRedisCache(r *redis.Client, keyPrefix string) Cache {
	return &redisCache{r: r, prefix: keyPrefix}
}

// Get implements Cache.
func (c *redisCache) Get(ctx context.Context, key string) ([]byte, bool) {
	if c.r == nil {
		return nil, false
	}
	b, err := c.r.Get(ctx, c.prefix+key).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			slog.WarnContext(ctx, "resolution cache read failed", "key", c.prefix+key, "err", err)
		}
		return nil, false
	}
	return b, true
}

// Set implements Cache.
func (c *redisCache) Set(ctx context.Context, key string, b []byte, ttl time.Duration) {
	if c.r == nil || ttl <= 0 {
		return
	}
	if err := c.r.Set(ctx, c.prefix+key, b, ttl).Err(); err != nil {
		slog.WarnContext(ctx, "resolution cache write failed", "key", c.prefix+key, "err", err)
	}
}
