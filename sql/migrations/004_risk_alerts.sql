-- 004_risk_alerts.sql: the core's real-time state (issue 14): the risk_alerts
-- outbox, the live view's watermark and the per-wallet alert state. The core
-- writes all three in one transaction per live update, so a restart continues
-- from what is stored and an alert is never lost nor written twice.

-- The outbox: one row per alert, payload an aml.v1.RiskAlert (protobuf). The
-- relay publishes unpublished rows to Kafka "risk.alerts" in id order and
-- then sets published; the id is the idempotence key downstream.
CREATE TABLE risk_alerts (
    id          bigserial PRIMARY KEY,
    wallet      text NOT NULL,
    rule        text NOT NULL,
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    published   boolean NOT NULL DEFAULT false
);
CREATE INDEX risk_alerts_wallet ON risk_alerts (wallet, id);
CREATE INDEX risk_alerts_rule ON risk_alerts (rule, id);
CREATE INDEX risk_alerts_created ON risk_alerts (created_at, id);
CREATE INDEX risk_alerts_pending ON risk_alerts (id) WHERE NOT published;

-- The live view's state: one row (id = 1): the model and effective config it
-- scores with and the ingest seq it reflects.
CREATE TABLE live_state (
    id          integer PRIMARY KEY CHECK (id = 1),
    model       text NOT NULL,
    config      jsonb NOT NULL,
    watermark   bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Per rule and wallet: whether the rule is armed (a crossing alerts) and the
-- score last seen. A wallet with no row is armed. Hysteresis: a fired rule
-- re-arms only once the score falls below threshold - margin (or the rank
-- leaves top N + margin).
CREATE TABLE alert_state (
    rule        text NOT NULL,
    wallet      text NOT NULL,
    armed       boolean NOT NULL,
    last_score  double precision NOT NULL,
    watermark   bigint NOT NULL,
    PRIMARY KEY (rule, wallet)
);
