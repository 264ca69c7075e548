package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/cache"
)

type row struct{ V int }

// A load that read the row before a write committed must not store it after
// the write invalidated the key: the next read loads again and sees the
// write. Without a write in between, the loaded row is stored and served.
func TestReadThroughNeverStoresWhatAWriteInvalidatedMeanwhile(t *testing.T) {
	t.Parallel()
	c := testenv.Platform(t).Cache
	ctx := context.Background()
	key := "test:readthrough:" + testenv.Suffix()
	loads := 0
	stale := func(ctx context.Context) (*row, error) {
		loads++
		// The write commits and invalidates while this load is in flight.
		if err := c.Invalidate(ctx, key); err != nil {
			t.Fatal(err)
		}
		return &row{V: 1}, nil
	}
	if v, err := cache.ReadThrough(ctx, c, key, time.Minute, stale); err != nil || v.V != 1 {
		t.Fatalf("first read: %v, %v", v, err)
	}
	var got row
	if c.GetJSON(ctx, key, &got) {
		t.Fatalf("the row read before the invalidation was cached: %+v", got)
	}
	fresh := func(context.Context) (*row, error) { loads++; return &row{V: 2}, nil }
	for range 2 {
		if v, err := cache.ReadThrough(ctx, c, key, time.Minute, fresh); err != nil || v.V != 2 {
			t.Fatalf("read after the write: %v, %v", v, err)
		}
	}
	if loads != 2 {
		t.Errorf("%d loads, want 2 (the second read after the write is served from the cache)", loads)
	}
	if err := c.Invalidate(ctx, key); err != nil {
		t.Fatal(err)
	}
	if c.GetJSON(ctx, key, &got) {
		t.Errorf("entry survived its invalidation: %+v", got)
	}
}
