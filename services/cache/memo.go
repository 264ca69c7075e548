package cache

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// A Memo keeps decoded read-through entries in the process, each under the
// generation its entry had in Redis, so that a hot read asks Redis only for
// the key's generation (a few dozen bytes) and decodes nothing.
//
// It never answers from memory alone: a memoized value is returned only when
// Redis confirms, in the same request, that the key's generation is still the
// one the value was read at. Since every write gives its keys a new random
// generation (Invalidate), a memo hit is exactly as fresh as a Redis hit, and
// with Redis unreachable the memo is not used at all. "No generation" does not
// name one state of an entry (it is also what a restarted Redis has), so an
// entry read without one is first given one, in the same script that reads
// it, and a value stored without one is not memoized.
//
// The value handed out is a copy of the struct, so that assigning its fields
// does not change what other readers get; what it points to (slices, maps) is
// shared and must be treated as read-only.
type Memo[T any] struct {
	mu      sync.Mutex
	entries map[string]memoEntry[T]
	max     int
	life    time.Duration
}

type memoEntry[T any] struct {
	gen   string
	v     *T
	until time.Time
}

// NewMemo keeps at most max entries, each at most life (and never longer than
// the TTL its Redis entry was stored with).
func NewMemo[T any](max int, life time.Duration) *Memo[T] {
	if max < 1 {
		max = 1
	}
	return &Memo[T]{entries: make(map[string]memoEntry[T]), max: max, life: life}
}

// Len reports how many entries the memo holds.
func (m *Memo[T]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func (m *Memo[T]) get(key string, now time.Time) (memoEntry[T], bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if ok && !now.Before(e.until) {
		delete(m.entries, key)
		return e, false
	}
	return e, ok
}

func (m *Memo[T]) put(key, gen string, v *T, ttl time.Duration, now time.Time) {
	if gen == "" || v == nil {
		return
	}
	life := m.life
	if ttl < life {
		life = ttl
	}
	if life <= 0 {
		return
	}
	cp := *v
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[key]; !ok && len(m.entries) >= m.max {
		m.evict(now)
	}
	m.entries[key] = memoEntry[T]{gen: gen, v: &cp, until: now.Add(life)}
}

// evict drops the expired entries or, when none has expired, an eighth of
// them (Go's map order is random enough for that).
func (m *Memo[T]) evict(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.until) {
			delete(m.entries, k)
		}
	}
	for k := range m.entries {
		if len(m.entries) < m.max-m.max/8 {
			break
		}
		delete(m.entries, k)
	}
}

func (m *Memo[T]) drop(key string) {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
}

// entryWithGenerationScript returns KEYS[1] and its generation KEYS[2],
// first giving the key the generation ARGV[1] (for ARGV[2] s) when it has an
// entry but no generation yet: the entry is then, atomically, the state that
// generation names, and a memo may keep it under that name.
var entryWithGenerationScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local g = redis.call('GET', KEYS[2])
if v and not g then
  g = ARGV[1]
  redis.call('SET', KEYS[2], g, 'EX', ARGV[2])
end
return {v, g}`)

// entryWithGeneration returns key's entry (nil on a miss) and its generation
// ("" when it has neither).
func (c *Cache) entryWithGeneration(ctx context.Context, key string) ([]byte, string, error) {
	res, err := entryWithGenerationScript.Run(ctx, c.R, []string{key, generationKey(key)},
		uuid.NewString(), int64(generationTTL/time.Second)).Slice()
	if err != nil {
		return nil, "", err
	}
	var raw []byte
	var gen string
	if len(res) > 0 {
		if v, ok := res[0].(string); ok {
			raw = []byte(v)
		}
	}
	if len(res) > 1 {
		gen, _ = res[1].(string)
	}
	return raw, gen, nil
}

// TTLer is a cached value that says how long it may be kept: ReadThroughMemo
// with a ttl of 0 asks the value (an identifier's record lives as long as its
// shortest value TTL).
type TTLer interface{ CacheTTL() time.Duration }

func ttlOf[T any](v *T, ttl time.Duration) time.Duration {
	if ttl == 0 {
		if t, ok := any(v).(TTLer); ok {
			return t.CacheTTL()
		}
	}
	return ttl
}

// ReadThroughMemo is ReadThrough with decoded entries kept in m. A hit costs
// one small Redis GET of the key's generation; a miss one script that reads the entry
// and its generation, then, as ReadThrough, load and a conditional store.
func ReadThroughMemo[T any](ctx context.Context, c *Cache, m *Memo[T], key string, ttl time.Duration, load func(context.Context) (*T, error)) (*T, error) {
	if c == nil || m == nil {
		return ReadThrough(ctx, c, key, ttl, load)
	}
	now := time.Now()
	if e, ok := m.get(key, now); ok {
		gen, err := c.R.Get(ctx, generationKey(key)).Result()
		if err == nil && gen == e.gen {
			cp := *e.v
			return &cp, nil
		}
		m.drop(key)
		if err != nil && !errors.Is(err, redis.Nil) {
			slog.WarnContext(ctx, "cache read failed", "key", generationKey(key), "err", err)
			return load(ctx)
		}
	}
	raw, gen, err := c.entryWithGeneration(ctx, key)
	if err != nil {
		slog.WarnContext(ctx, "cache read failed", "key", key, "err", err)
		return load(ctx)
	}
	if raw != nil {
		var v T
		if err := json.Unmarshal(raw, &v); err == nil {
			m.put(key, gen, &v, ttlOf(&v, ttl), now)
			return &v, nil
		} else {
			slog.WarnContext(ctx, "cache entry unreadable", "key", key, "err", err)
		}
	}
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	ttl = ttlOf(v, ttl)
	if c.setIfCurrent(ctx, key, gen, v, ttl) {
		m.put(key, gen, v, ttl, now)
	}
	return v, nil
}
