-- 001_schema.sql: the system of record. The consumer owns transactions and the
-- ingestion tables; the core owns scoring_runs and risk_scores and reads
-- transactions and wallet_labels. Wallet ids compare bytewise (COLLATE "C").

CREATE TABLE transactions (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- ingest sequence: run watermarks
    tx_id        text COLLATE "C" NOT NULL UNIQUE CHECK (tx_id <> ''),
    sender       text COLLATE "C" NOT NULL CHECK (sender <> ''),
    receiver     text COLLATE "C" NOT NULL CHECK (receiver <> ''),
    amount       numeric(38, 18) NOT NULL CHECK (amount >= 0),
    "timestamp"  timestamptz NOT NULL,
    asset        text,
    ingested_at  timestamptz NOT NULL DEFAULT now()
);

-- Writers append to transactions only while holding this lock until COMMIT, so
-- ingest sequence order is commit order: every row at or below a watermark read
-- in one snapshot is already visible, and a run's watermark covers exactly the
-- rows it scored, whenever it is re-read.
CREATE FUNCTION transactions_append_lock() RETURNS void
    LANGUAGE sql AS $$ SELECT pg_advisory_xact_lock(727001) $$;

CREATE TABLE wallet_labels (
    wallet      text COLLATE "C" NOT NULL CHECK (wallet <> ''),
    label       text NOT NULL CHECK (label <> ''),      -- e.g. 'illicit'
    source      text NOT NULL DEFAULT 'manual',         -- list or feed it came from
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (wallet, label, source)
);
CREATE INDEX wallet_labels_label ON wallet_labels (label);

CREATE TABLE scoring_runs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz,
    status             text NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'completed', 'failed')),
    model              text NOT NULL,
    config_json        jsonb NOT NULL,          -- the full config, every key
    tx_source          jsonb NOT NULL,          -- {"table","watermark","transactions"}
    labels             jsonb NOT NULL DEFAULT '[]', -- labelled wallets used (use_labels)
    watermark          bigint NOT NULL,
    transaction_count  bigint NOT NULL DEFAULT 0,
    wallet_count       bigint NOT NULL DEFAULT 0,
    illicit_count      bigint NOT NULL DEFAULT 0,
    load_ms            double precision,
    score_ms           double precision,
    store_ms           double precision,
    error              text
);
-- "the latest completed run"
CREATE INDEX scoring_runs_completed ON scoring_runs (id DESC) WHERE status = 'completed';

CREATE TABLE risk_scores (
    run_id          bigint NOT NULL REFERENCES scoring_runs (id) ON DELETE CASCADE,
    wallet          text COLLATE "C" NOT NULL,
    risk_score      double precision NOT NULL,
    exposures       bigint NOT NULL,
    exposures_json  json NOT NULL,              -- [{"hop","weight","illicit_count"}], c_0..c_K
    in_degree       integer NOT NULL,
    out_degree      integer NOT NULL,
    is_illicit      boolean NOT NULL,
    PRIMARY KEY (run_id, wallet)
);
-- "top N of a run" in the spec's order, read straight off the index
CREATE INDEX risk_scores_top ON risk_scores (run_id, risk_score DESC, wallet);

-- One row per consumer instance: counters and the last error (IngestionStatus).
CREATE TABLE ingestion_consumers (
    consumer_id    text PRIMARY KEY,
    group_id       text NOT NULL,
    topic          text NOT NULL,
    consumed       bigint NOT NULL DEFAULT 0,
    inserted       bigint NOT NULL DEFAULT 0,
    duplicates     bigint NOT NULL DEFAULT 0,
    dead_lettered  bigint NOT NULL DEFAULT 0,
    last_error     text,
    last_error_at  timestamptz,
    started_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Per partition: the offset committed after the rows were stored, and the lag.
CREATE TABLE ingestion_offsets (
    topic             text NOT NULL,
    partition         integer NOT NULL,
    consumer_id       text NOT NULL,
    committed_offset  bigint NOT NULL,   -- next offset to read
    high_watermark    bigint,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
