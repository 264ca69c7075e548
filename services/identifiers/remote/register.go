package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/masscustom/orchestrator/services/identifiers"
)

// Register tells the upper node that this node serves prefix at site
// (PUT /api/prefixes/{prefix} with {"site": site} and the node's bearer
// token), as a gateway does at start-up when HANDLE_UPPER_TOKEN is set. The
// node's refusal comes back as an error naming its status and message.
func Register(ctx context.Context, c *http.Client, upper, token, prefix, site string) error {
	if err := identifiers.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("register %s: %w", prefix, err)
	}
	if c == nil {
		c = http.DefaultClient
	}
	body, _ := json.Marshal(map[string]string{"site": site})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(upper, "/")+"/api/prefixes/"+prefix, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("register %s at %s: %w", prefix, upper, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("register %s at %s: %w", prefix, upper, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusCreated {
		return nil
	}
	var refusal struct{ Code, Message string }
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	_ = json.Unmarshal(raw, &refusal)
	return fmt.Errorf("register %s at %s: HTTP %d %s %s", prefix, upper, res.StatusCode, refusal.Code, refusal.Message)
}
