-- Catalog (versioned product templates), quotes, orders and the order timeline.
CREATE TABLE product_templates (
    id          uuid PRIMARY KEY,
    code        text NOT NULL,
    version     int  NOT NULL CHECK (version > 0),
    name        text NOT NULL,
    currency    text NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (code, version)
);
CREATE INDEX product_templates_created ON product_templates (created_at, id);

CREATE TABLE quotes (
    id                uuid PRIMARY KEY,
    customer_id       uuid NOT NULL REFERENCES enterprises(id),
    template_id       uuid NOT NULL REFERENCES product_templates(id),
    selections        jsonb NOT NULL,
    quantity          int NOT NULL CHECK (quantity > 0),
    result            jsonb NOT NULL,
    total             numeric NOT NULL,
    currency          text NOT NULL,
    valid_until       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quotes_customer ON quotes (customer_id, created_at, id);

CREATE TABLE orders (
    id                 uuid PRIMARY KEY,
    customer_id        uuid NOT NULL REFERENCES enterprises(id),
    placed_by          uuid REFERENCES users(id),
    idempotency_key    text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    template_id        uuid NOT NULL REFERENCES product_templates(id),
    quote_id           uuid REFERENCES quotes(id),
    config_version     int NOT NULL DEFAULT 1,
    selections         jsonb NOT NULL,
    quantity           int NOT NULL CHECK (quantity > 0),
    shipping_address   jsonb NOT NULL,
    result             jsonb NOT NULL,
    total              numeric NOT NULL,
    currency           text NOT NULL,
    status             text NOT NULL CHECK (status IN ('ACTIVE','ON_HOLD','CANCELLED','COMPLETED')),
    stage              text NOT NULL CHECK (stage IN ('INTERACTION','DESIGN','PROCUREMENT','PRODUCTION','LOGISTICS','SERVICE')),
    design_deadline    timestamptz,
    design_approved_at timestamptz,
    last_seq           bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX orders_customer ON orders (customer_id, created_at, id);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_status_stage ON orders (status, stage);

-- The append-only timeline. event_key makes an activity that runs twice append once.
CREATE TABLE order_events (
    order_id   uuid NOT NULL REFERENCES orders(id),
    seq        bigint NOT NULL,
    event_key  text NOT NULL,
    type       text NOT NULL,
    stage      text NOT NULL,
    status     text NOT NULL,
    message    text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    actor_id   uuid,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, seq),
    UNIQUE (order_id, event_key)
);
