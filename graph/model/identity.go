package model

import (
	"time"

	"github.com/google/uuid"
)

// Enterprise is the GraphQL view of identity.Enterprise.
type Enterprise struct {
	ID        string         `json:"id"`
	Kind      EnterpriseKind `json:"kind"`
	Name      string         `json:"name"`
	CreatedAt time.Time      `json:"createdAt"`
	UUID      uuid.UUID      `json:"-"`
}

// IsNode marks Enterprise as a Node.
func (Enterprise) IsNode() {}

// GetID returns the global id.
func (e Enterprise) GetID() string { return e.ID }

// User is the GraphQL view of identity.User.
type User struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	Role           Role      `json:"role"`
	CreatedAt      time.Time `json:"createdAt"`
	UUID           uuid.UUID `json:"-"`
	EnterpriseUUID uuid.UUID `json:"-"`
}

// IsNode marks User as a Node.
func (User) IsNode() {}

// GetID returns the global id.
func (u User) GetID() string { return u.ID }

// APIToken is the GraphQL view of identity.Token.
type APIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	UserUUID  uuid.UUID  `json:"-"`
}

// IsNode marks APIToken as a Node.
func (APIToken) IsNode() {}

// GetID returns the global id.
func (t APIToken) GetID() string { return t.ID }

// Viewer is the caller.
type Viewer struct {
	Permissions    []string  `json:"permissions"`
	UserUUID       uuid.UUID `json:"-"`
	EnterpriseUUID uuid.UUID `json:"-"`
}
