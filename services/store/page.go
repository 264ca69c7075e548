package store

// Page is one page of a keyset-paginated list, ready to become a Relay connection.
type Page[T any] struct {
	Items   []T
	Cursors []string
	HasNext bool
}

// NewPage trims rows fetched with limit+1 to a page, computing cursors from key.
func NewPage[T any](rows []T, limit int, key func(T) Key) Page[T] {
	p := Page[T]{}
	if len(rows) > limit {
		rows = rows[:limit]
		p.HasNext = true
	}
	p.Items = rows
	p.Cursors = make([]string, len(rows))
	for i, r := range rows {
		p.Cursors[i] = Cursor(key(r))
	}
	return p
}
