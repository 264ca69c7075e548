package cache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/cache"
)

type doc struct {
	V    int
	Tags []string
}

// counter is a load that counts its calls and returns the current version.
type counter struct {
	loads, v int
}

func (c *counter) load(context.Context) (*doc, error) {
	c.loads++
	return &doc{V: c.v, Tags: []string{"a"}}, nil
}

// A memoized entry is served while Redis confirms its generation, and never
// after a write invalidated the key: the next read loads the new row, as a
// read without a memo would.
func TestReadThroughMemoIsAsFreshAsRedis(t *testing.T) {
	t.Parallel()
	c := testenv.Platform(t).Cache
	ctx := context.Background()
	key := "test:memo:" + testenv.Suffix()
	m := cache.NewMemo[doc](100, time.Minute)
	src := &counter{v: 1}
	read := func(want int) *doc {
		t.Helper()
		got, err := cache.ReadThroughMemo(ctx, c, m, key, time.Minute, src.load)
		if err != nil || got.V != want {
			t.Fatalf("read: %+v, %v; want V=%d", got, err, want)
		}
		return got
	}
	read(1)        // loaded and stored in Redis (the key has no generation yet)
	got := read(1) // read from Redis, given a generation, memoized
	if m.Len() != 1 {
		t.Fatalf("memo holds %d entries after a read from Redis, want 1", m.Len())
	}
	got.V = 99 // a caller assigning a field of its copy changes nothing shared
	read(1)
	if src.loads != 1 {
		t.Fatalf("%d loads for three reads without a write, want 1", src.loads)
	}

	src.v = 2
	if err := c.Invalidate(ctx, key); err != nil {
		t.Fatal(err)
	}
	read(2)
	read(2)
	if src.loads != 2 {
		t.Errorf("%d loads, want 2 (one after the write, then served again)", src.loads)
	}

	// Another process's memo, empty, reads the entry from Redis without
	// loading, and then sees the next write too.
	other := cache.NewMemo[doc](100, time.Minute)
	if v, err := cache.ReadThroughMemo(ctx, c, other, key, time.Minute, src.load); err != nil || v.V != 2 || src.loads != 2 {
		t.Fatalf("second memo: %+v, %v, %d loads", v, err, src.loads)
	}
	src.v = 3
	if err := c.Invalidate(ctx, key); err != nil {
		t.Fatal(err)
	}
	if v, err := cache.ReadThroughMemo(ctx, c, other, key, time.Minute, src.load); err != nil || v.V != 3 {
		t.Fatalf("second memo after a write: %+v, %v", v, err)
	}
}

// An entry stored before its key ever had a generation (a key never written
// since it was first cached, or a Redis that restarted) is given one as it is
// read, so the memo can keep it, and a later write still replaces it.
func TestReadThroughMemoGivesAnEntryWithoutGenerationOne(t *testing.T) {
	t.Parallel()
	c := testenv.Platform(t).Cache
	ctx := context.Background()
	key := "test:memo-nogen:" + testenv.Suffix()
	src := &counter{v: 1}
	// Stored by a plain read-through: no generation key exists.
	if _, err := cache.ReadThrough(ctx, c, key, time.Minute, src.load); err != nil {
		t.Fatal(err)
	}
	if n, err := c.R.Exists(ctx, "gen:"+key).Result(); err != nil || n != 0 {
		t.Fatalf("generation key exists before any write: %d, %v", n, err)
	}
	m := cache.NewMemo[doc](100, time.Minute)
	for range 3 {
		if v, err := cache.ReadThroughMemo(ctx, c, m, key, time.Minute, src.load); err != nil || v.V != 1 {
			t.Fatalf("read: %+v, %v", v, err)
		}
	}
	if src.loads != 1 || m.Len() != 1 {
		t.Fatalf("%d loads and %d memo entries, want 1 and 1", src.loads, m.Len())
	}
	if g, err := c.R.Get(ctx, "gen:"+key).Result(); err != nil || g == "" {
		t.Fatalf("the read did not give the key a generation: %q, %v", g, err)
	}
	src.v = 2
	if err := c.Invalidate(ctx, key); err != nil {
		t.Fatal(err)
	}
	if v, err := cache.ReadThroughMemo(ctx, c, m, key, time.Minute, src.load); err != nil || v.V != 2 {
		t.Fatalf("read after the write: %+v, %v", v, err)
	}
}

// A load that raced a write is neither stored nor memoized: the read after
// it loads again.
func TestReadThroughMemoKeepsNothingAWriteInvalidatedMeanwhile(t *testing.T) {
	t.Parallel()
	c := testenv.Platform(t).Cache
	ctx := context.Background()
	key := "test:memo-race:" + testenv.Suffix()
	m := cache.NewMemo[doc](100, time.Minute)
	// The key has a generation, as every written key has.
	if err := c.Invalidate(ctx, key); err != nil {
		t.Fatal(err)
	}
	loads := 0
	racing := func(ctx context.Context) (*doc, error) {
		loads++
		if err := c.Invalidate(ctx, key); err != nil {
			t.Fatal(err)
		}
		return &doc{V: loads}, nil
	}
	if v, err := cache.ReadThroughMemo(ctx, c, m, key, time.Minute, racing); err != nil || v.V != 1 {
		t.Fatalf("first read: %+v, %v", v, err)
	}
	if m.Len() != 0 {
		t.Fatalf("a load that raced a write was memoized")
	}
	if v, err := cache.ReadThroughMemo(ctx, c, m, key, time.Minute, racing); err != nil || v.V != 2 {
		t.Fatalf("second read: %+v, %v (want a new load)", v, err)
	}
}

// With Redis unreachable every read is a load: the memo never answers
// without Redis confirming the generation.
func TestReadThroughMemoWithoutRedisLoads(t *testing.T) {
	t.Parallel()
	p := testenv.Platform(t)
	ctx := context.Background()
	key := "test:memo-down:" + testenv.Suffix()
	m := cache.NewMemo[doc](100, time.Minute)
	src := &counter{v: 1}
	if err := p.Cache.Invalidate(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.ReadThroughMemo(ctx, p.Cache, m, key, time.Minute, src.load); err != nil || m.Len() != 1 {
		t.Fatalf("warm-up: %v, %d entries", err, m.Len())
	}
	down := &cache.Cache{R: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})}
	defer down.Close()
	for range 2 {
		if v, err := cache.ReadThroughMemo(ctx, down, m, key, time.Minute, src.load); err != nil || v.V != 1 {
			t.Fatalf("read with Redis down: %+v, %v", v, err)
		}
	}
	if src.loads != 3 {
		t.Errorf("%d loads, want 3 (every read with Redis down loads)", src.loads)
	}
}

// The memo holds at most its size and drops expired entries first.
func TestMemoIsBounded(t *testing.T) {
	t.Parallel()
	c := testenv.Platform(t).Cache
	ctx := context.Background()
	m := cache.NewMemo[doc](8, time.Minute)
	prefix := "test:memo-bound:" + testenv.Suffix()
	src := &counter{v: 1}
	for i := range 50 {
		key := fmt.Sprintf("%s:%d", prefix, i)
		if err := c.Invalidate(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := cache.ReadThroughMemo(ctx, c, m, key, time.Minute, src.load); err != nil {
			t.Fatal(err)
		}
		if m.Len() > 8 {
			t.Fatalf("memo holds %d entries, more than its size 8", m.Len())
		}
	}
	if m.Len() == 0 {
		t.Fatal("memo holds nothing after 50 stored loads")
	}
}
