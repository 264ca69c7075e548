-- Identity and access: enterprises, their users, and API tokens (only a hash stored).
CREATE TABLE enterprises (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('CUSTOMER','SUPPLIER','FACTORY','CARRIER','LESSOR','PLATFORM')),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX enterprises_name_key ON enterprises (lower(name));
CREATE INDEX enterprises_created ON enterprises (created_at, id);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    enterprise_id uuid NOT NULL REFERENCES enterprises(id),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (role IN ('ADMIN','MEMBER','FINANCE','VIEWER')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_enterprise ON users (enterprise_id, created_at, id);

CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash  bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    created_by  uuid REFERENCES users(id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at, id);
