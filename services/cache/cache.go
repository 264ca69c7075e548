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

	"github.com/google/uuid"
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

// A read-through entry must never outlive the write that invalidated it. A
// reader that loaded the row before a write committed and stores it after the
// write's invalidation would leave the old row cached until its TTL. So each
// key has a generation: the reader reads it before loading (Generation) and
// stores only while it is unchanged (SetJSONIfCurrent); a write bumps it and
// drops the entry (Invalidate), after its commit.

// generationTTL outlives every entry's TTL, so that an entry never survives
// its generation key.
const generationTTL = 24 * time.Hour

func generationKey(key string) string { return "gen:" + key }

// Generation returns key's generation for SetJSONIfCurrent; ok is false when
// Redis fails, and then nothing should be stored.
func (c *Cache) Generation(ctx context.Context, key string) (gen string, ok bool) {
	if c == nil {
		return "", false
	}
	g, err := c.R.Get(ctx, generationKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", true
	}
	if err != nil {
		slog.WarnContext(ctx, "cache read failed", "key", generationKey(key), "err", err)
		return "", false
	}
	return g, true
}

// setIfCurrentScript stores ARGV[2] under KEYS[1] for ARGV[3] ms while the
// generation KEYS[2] is still ARGV[1].
var setIfCurrentScript = redis.NewScript(`
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)

// SetJSONIfCurrent stores v under key for ttl unless key was invalidated
// since gen was read (Generation). Failures are logged: the cache is an
// optimisation.
func (c *Cache) SetJSONIfCurrent(ctx context.Context, key, gen string, v any, ttl time.Duration) {
	c.setIfCurrent(ctx, key, gen, v, ttl)
}

// setIfCurrent is SetJSONIfCurrent reporting whether v was stored.
func (c *Cache) setIfCurrent(ctx context.Context, key, gen string, v any, ttl time.Duration) bool {
	if c == nil || ttl < time.Millisecond {
		return false
	}
	b, err := json.Marshal(v)
	if err != nil {
		slog.WarnContext(ctx, "cache encode failed", "key", key, "err", err)
		return false
	}
	stored, err := setIfCurrentScript.Run(ctx, c.R, []string{key, generationKey(key)}, gen, b, ttl.Milliseconds()).Int()
	if err != nil {
		slog.WarnContext(ctx, "cache write failed", "key", key, "err", err)
		return false
	}
	return stored == 1
}

// ReadThrough returns the entry under key or, on a miss, what load returns,
// stored for ttl unless key is invalidated meanwhile. With Redis down it is
// load alone.
func ReadThrough[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(context.Context) (*T, error)) (*T, error) {
	var cached T
	if c.GetJSON(ctx, key, &cached) {
		return &cached, nil
	}
	gen, ok := c.Generation(ctx, key)
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		c.SetJSONIfCurrent(ctx, key, gen, v, ttl)
	}
	return v, nil
}

// Invalidate gives keys a new generation and drops their entries, so that a
// load that began before the write cannot store what it read. A generation
// is random, never a counter: one that expired and began again could repeat
// the value a slow reader holds. Call it after the write commits; its error
// is returned for the callers to whom a stale entry matters (a revoked token).
func (c *Cache) Invalidate(ctx context.Context, keys ...string) error {
	if c == nil || len(keys) == 0 {
		return nil
	}
	_, err := c.R.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, generationKey(k), uuid.NewString(), generationTTL)
		}
		p.Del(ctx, keys...)
		return nil
	})
	return err
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
