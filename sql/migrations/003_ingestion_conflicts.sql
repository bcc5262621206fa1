-- 003_ingestion_conflicts.sql: conflicting duplicates counted on their own,
-- and counters that count each Kafka message once per consumer group.
-- (003, not 002: 002 is taken by the flow model's migration on its branch.)

-- A conflicting duplicate is a message whose tx_id is already stored with
-- other content: it goes to the dead-letter topic and nothing stored changes.
-- dead_lettered counts every message sent there (invalid ones and conflicts),
-- conflicts the conflicts alone, so consumed = inserted + duplicates +
-- dead_lettered, where duplicates are identical replays.
ALTER TABLE ingestion_consumers ADD COLUMN conflicts bigint NOT NULL DEFAULT 0;

-- Per consumer group and partition: the offset below which every message is
-- already counted in ingestion_consumers. Written in the transaction that
-- writes a batch, read after the append lock is taken, so a batch written
-- again (after a COMMIT whose outcome was lost, or re-read after a crash
-- before its Kafka offsets were committed) adds nothing twice.
CREATE TABLE ingestion_counted (
    group_id     text NOT NULL,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);
