-- 006_partition_attach.sql: a new run's risk_scores partition is created as a
-- table of its own, then attached. 005 created it with CREATE TABLE ...
-- PARTITION OF, which takes an ACCESS EXCLUSIVE lock on risk_scores: any
-- session with an open transaction that had read risk_scores (a report, a
-- pg_dump, a reader between statements) blocked every new run's store until
-- it ended. ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on risk_scores,
-- which readers (ACCESS SHARE) and writers (ROW EXCLUSIVE) do not conflict
-- with; the new table is empty, so the partition check scans nothing, and the
-- attach adds its indexes and its foreign key like PARTITION OF did.

CREATE OR REPLACE FUNCTION risk_scores_add_partition(p_id bigint) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    part text := 'risk_scores_r' || p_id;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE risk_scores INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   part);
    EXECUTE format('ALTER TABLE risk_scores ATTACH PARTITION %I FOR VALUES IN (%s)', part, p_id);
END $$;
