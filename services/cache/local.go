package cache

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Local is an in-process copy of small, hot, rarely changed entries (the
// principal behind a bearer token) that answers without asking Redis. What
// keeps it honest is a Redis channel: whoever changes an entry calls
// Invalidate, which drops it here and publishes the key to every other
// process, where Run drops it too.
//
// Its promise, weaker than Memo's and bounded: a change is seen at once by
// the process that made it, by the others as soon as the message arrives
// (milliseconds), and at worst after life, the longest an entry is kept. It
// answers nothing while its subscription is not confirmed, it forgets
// everything when the subscription breaks or is made again (messages may have
// been missed meanwhile), and a value read before any invalidation that
// arrived during the read is not kept.
type Local[T any] struct {
	c       *Cache
	channel string
	max     int
	life    time.Duration

	mu      sync.Mutex
	entries map[string]localEntry[T]
	// epoch counts invalidations and subscription changes; Put keeps a value
	// only if none happened since Epoch was read before reading the value.
	epoch   atomic.Uint64
	healthy atomic.Bool
}

type localEntry[T any] struct {
	v     T
	until time.Time
}

// NewLocal returns a Local on channel; it answers once Run has subscribed.
func NewLocal[T any](c *Cache, channel string, max int, life time.Duration) *Local[T] {
	if max < 1 {
		max = 1
	}
	return &Local[T]{c: c, channel: channel, max: max, life: life, entries: make(map[string]localEntry[T])}
}

// Ready reports whether the subscription is confirmed, so that Get answers.
func (l *Local[T]) Ready() bool { return l != nil && l.healthy.Load() }

// Len reports how many entries are kept.
func (l *Local[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Epoch is read before the value that is later offered to Put.
func (l *Local[T]) Epoch() uint64 {
	if l == nil {
		return 0
	}
	return l.epoch.Load()
}

// Get returns key's value while it is younger than life and the
// subscription is confirmed.
func (l *Local[T]) Get(key string) (T, bool) {
	var zero T
	if l == nil || !l.healthy.Load() {
		return zero, false
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return zero, false
	}
	if !now.Before(e.until) {
		delete(l.entries, key)
		return zero, false
	}
	return e.v, true
}

// Put keeps v under key for at most life (and at most ttl), unless an
// invalidation arrived since epoch was read.
func (l *Local[T]) Put(key string, v T, ttl time.Duration, epoch uint64) {
	if l == nil || !l.healthy.Load() {
		return
	}
	life := min(l.life, ttl)
	if life <= 0 {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch.Load() != epoch {
		return
	}
	if _, ok := l.entries[key]; !ok && len(l.entries) >= l.max {
		for k, e := range l.entries {
			if !now.Before(e.until) || len(l.entries) >= l.max-l.max/8 {
				delete(l.entries, k)
			}
		}
	}
	l.entries[key] = localEntry[T]{v: v, until: now.Add(life)}
}

// Invalidate drops key here and tells the other processes to drop it. Its
// error (the message was not published) is the caller's to report: the other
// processes then keep the entry for at most life.
func (l *Local[T]) Invalidate(ctx context.Context, key string) error {
	if l == nil {
		return nil
	}
	l.drop(key)
	return l.c.R.Publish(ctx, l.channel, key).Err()
}

func (l *Local[T]) drop(key string) {
	l.mu.Lock()
	l.epoch.Add(1)
	delete(l.entries, key)
	l.mu.Unlock()
}

func (l *Local[T]) forget(healthy bool) {
	l.mu.Lock()
	l.epoch.Add(1)
	clear(l.entries)
	l.healthy.Store(healthy)
	l.mu.Unlock()
}

// Run subscribes to the channel and applies its messages until ctx ends. A
// connection that stops answering pings within life is treated as broken.
func (l *Local[T]) Run(ctx context.Context) {
	if l == nil {
		return
	}
	defer l.forget(false)
	for ctx.Err() == nil {
		l.subscribe(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (l *Local[T]) subscribe(ctx context.Context) {
	ps := l.c.R.Subscribe(ctx, l.channel)
	defer ps.Close()
	// A blocked read ends with the connection, not with ctx.
	defer context.AfterFunc(ctx, func() { _ = ps.Close() })()
	interval := min(max(l.life/2, 50*time.Millisecond), time.Second)
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, interval)
		var timeout interface{ Timeout() bool }
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.As(err, &timeout) && timeout.Timeout() && !pinged:
			// Quiet: ask the server to prove the connection is alive.
			if err := ps.Ping(ctx); err != nil {
				l.broken(ctx, err)
				return
			}
			pinged = true
			continue
		default:
			l.broken(ctx, err)
			return
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			// (Re)subscribed: what was published meanwhile is unknown.
			l.forget(m.Kind == "subscribe")
		case *redis.Message:
			l.drop(m.Payload)
		case *redis.Pong:
		}
	}
}

func (l *Local[T]) broken(ctx context.Context, err error) {
	if l.healthy.Load() {
		slog.WarnContext(ctx, "local cache unsubscribed; answering from Redis until it is back", "channel", l.channel, "err", err)
	}
	l.forget(false)
}
