package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/cache"
)

// running starts l's subscription for the test and waits until it answers.
func running[T any](t *testing.T, l *cache.Local[T]) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for !l.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the local cache did not subscribe within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two processes each keep an entry; an invalidation through one drops it
// there at once and in the other as soon as its message arrives.
func TestLocalInvalidationReachesTheOtherProcess(t *testing.T) {
	t.Parallel()
	c := testenv.Platform(t).Cache
	ctx := context.Background()
	channel := "test:local:" + testenv.Suffix()
	a := cache.NewLocal[int](c, channel, 100, time.Minute)
	b := cache.NewLocal[int](c, channel, 100, time.Minute)
	if _, ok := a.Get("k"); ok {
		t.Fatal("an unsubscribed local cache answered")
	}
	a.Put("k", 1, time.Minute, a.Epoch())
	if _, ok := a.Get("k"); ok {
		t.Fatal("an unsubscribed local cache kept a value")
	}
	running(t, a)
	running(t, b)
	a.Put("k", 1, time.Minute, a.Epoch())
	b.Put("k", 1, time.Minute, b.Epoch())
	b.Put("other", 2, time.Minute, b.Epoch())
	for _, l := range []*cache.Local[int]{a, b} {
		if v, ok := l.Get("k"); !ok || v != 1 {
			t.Fatalf("kept value: %d, %t", v, ok)
		}
	}
	if err := a.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Get("k"); ok {
		t.Fatal("the invalidating process still answers")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := b.Get("k"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other process still answers 5s after the invalidation")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if v, ok := b.Get("other"); !ok || v != 2 {
		t.Errorf("an invalidation of k dropped another key: %d, %t", v, ok)
	}
}

// A value read before an invalidation that arrived during the read is not
// kept, and no value outlives its life.
func TestLocalKeepsNothingStaleOrOld(t *testing.T) {
	t.Parallel()
	c := testenv.Platform(t).Cache
	ctx := context.Background()
	l := cache.NewLocal[int](c, "test:local-stale:"+testenv.Suffix(), 100, 100*time.Millisecond)
	running(t, l)
	epoch := l.Epoch() // a read begins
	if err := l.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	l.Put("k", 1, time.Minute, epoch) // what it read predates the invalidation
	if _, ok := l.Get("k"); ok {
		t.Fatal("a value read before an invalidation was kept")
	}
	l.Put("k", 2, time.Minute, l.Epoch())
	if v, ok := l.Get("k"); !ok || v != 2 {
		t.Fatalf("fresh value: %d, %t", v, ok)
	}
	time.Sleep(150 * time.Millisecond)
	if _, ok := l.Get("k"); ok {
		t.Fatal("a value outlived the local cache's life")
	}
	l.Put("short", 3, time.Nanosecond, l.Epoch())
	time.Sleep(time.Millisecond)
	if _, ok := l.Get("short"); ok {
		t.Fatal("a value outlived the TTL it was put with")
	}
}

// Without Redis the local cache never subscribes and so never answers.
func TestLocalWithoutRedisAnswersNothing(t *testing.T) {
	t.Parallel()
	down := &cache.Cache{R: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})}
	defer down.Close()
	l := cache.NewLocal[int](down, "test:local-down", 100, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	l.Put("k", 1, time.Minute, l.Epoch())
	if _, ok := l.Get("k"); ok || l.Ready() {
		t.Fatal("a local cache without Redis answered")
	}
	<-done
}

// The local cache holds at most its size.
func TestLocalIsBounded(t *testing.T) {
	t.Parallel()
	l := cache.NewLocal[int](testenv.Platform(t).Cache, "test:local-bound:"+testenv.Suffix(), 8, time.Minute)
	running(t, l)
	for i := range 50 {
		l.Put(string(rune('a'+i)), i, time.Minute, l.Epoch())
		if n := l.Len(); n > 8 {
			t.Fatalf("holds %d entries, more than its size 8", n)
		}
	}
}
