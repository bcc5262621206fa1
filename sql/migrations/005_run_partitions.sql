-- 005_run_partitions.sql: run retention (issue 17). risk_scores becomes a
-- table partitioned by LIST (run_id) with one partition per run, created by a
-- trigger when the run's scoring_runs row is inserted, so the core's COPY into
-- risk_scores and every reader's "WHERE run_id = $1" work unchanged, and
-- dropping a run drops one table instead of deleting its rows. Existing rows
-- (hop and flow runs, the columns of 002 included) are moved into their run's
-- partition. (005: 004 is taken by risk_alerts on another branch.)

ALTER TABLE scoring_runs ADD COLUMN pinned boolean NOT NULL DEFAULT false;

ALTER TABLE risk_scores RENAME TO risk_scores_unpartitioned;
ALTER TABLE risk_scores_unpartitioned RENAME CONSTRAINT risk_scores_pkey TO risk_scores_unpartitioned_pkey;
ALTER TABLE risk_scores_unpartitioned RENAME CONSTRAINT risk_scores_one_model TO risk_scores_unpartitioned_one_model;
ALTER TABLE risk_scores_unpartitioned RENAME CONSTRAINT risk_scores_run_id_fkey TO risk_scores_unpartitioned_run_id_fkey;
ALTER INDEX risk_scores_top RENAME TO risk_scores_unpartitioned_top;

CREATE TABLE risk_scores (
    run_id             bigint NOT NULL REFERENCES scoring_runs (id) ON DELETE CASCADE,
    wallet             text COLLATE "C" NOT NULL,
    risk_score         double precision NOT NULL,
    exposures          bigint,
    exposures_json     json,
    in_degree          integer NOT NULL,
    out_degree         integer NOT NULL,
    is_illicit         boolean NOT NULL,
    received_exposure  double precision,
    sent_exposure      double precision,
    received_hops      double precision[],
    sent_hops          double precision[],
    PRIMARY KEY (run_id, wallet),
    CONSTRAINT risk_scores_one_model CHECK (
        (exposures IS NOT NULL AND exposures_json IS NOT NULL
         AND received_exposure IS NULL AND sent_exposure IS NULL
         AND received_hops IS NULL AND sent_hops IS NULL)
        OR
        (exposures IS NULL AND exposures_json IS NULL
         AND received_exposure IS NOT NULL AND sent_exposure IS NOT NULL
         AND received_hops IS NOT NULL AND sent_hops IS NOT NULL
         AND array_position(received_hops, NULL) IS NULL
         AND array_position(sent_hops, NULL) IS NULL
         AND array_ndims(received_hops) = 1 AND array_ndims(sent_hops) = 1
         AND cardinality(received_hops) BETWEEN 1 AND 32
         AND cardinality(sent_hops) = cardinality(received_hops)))
) PARTITION BY LIST (run_id);
-- "top N of a run" in the spec's order, read straight off each partition's index
CREATE INDEX risk_scores_top ON risk_scores (run_id, risk_score DESC, wallet);

-- The partition of run p_id (its name is risk_scores_r<id>); the caller holds
-- the scoring_runs row. Idempotent.
CREATE FUNCTION risk_scores_add_partition(p_id bigint) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF risk_scores FOR VALUES IN (%s)',
                   'risk_scores_r' || p_id, p_id);
END $$;

CREATE FUNCTION scoring_runs_partition() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM risk_scores_add_partition(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER scoring_runs_partition AFTER INSERT ON scoring_runs
    FOR EACH ROW EXECUTE FUNCTION scoring_runs_partition();

-- Existing data: one partition per stored run, rows moved over.
SELECT risk_scores_add_partition(id) FROM scoring_runs ORDER BY id;
INSERT INTO risk_scores (run_id, wallet, risk_score, exposures, exposures_json, in_degree,
                         out_degree, is_illicit, received_exposure, sent_exposure,
                         received_hops, sent_hops)
    SELECT run_id, wallet, risk_score, exposures, exposures_json, in_degree, out_degree,
           is_illicit, received_exposure, sent_exposure, received_hops, sent_hops
    FROM risk_scores_unpartitioned;
DROP TABLE risk_scores_unpartitioned;

-- Why run p_id may not be pruned, or NULL when it may: it does not exist, it
-- is pinned, it is running, or it is the latest completed run of its model.
-- Call with the scoring_runs row locked (risk_runs_prune does).
CREATE FUNCTION risk_runs_prune_refusal(p_id bigint) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    r scoring_runs%ROWTYPE;
BEGIN
    SELECT * INTO r FROM scoring_runs WHERE id = p_id;
    IF NOT FOUND THEN
        RETURN 'no such run';
    ELSIF r.pinned THEN
        RETURN 'pinned';
    ELSIF r.status = 'running' THEN
        RETURN 'running';
    ELSIF r.status = 'completed' AND NOT EXISTS (
            SELECT 1 FROM scoring_runs s
            WHERE s.model = r.model AND s.status = 'completed' AND s.id > r.id) THEN
        RETURN 'latest completed run of ' || r.model;
    END IF;
    RETURN NULL;
END $$;

-- Prunes run p_id: drops its partition and its scoring_runs row, or returns
-- why not ('in use' when a reader holds its partition: the drop takes the
-- partition's ACCESS EXCLUSIVE lock without waiting, which conflicts with the
-- ACCESS SHARE lock every reader's statement holds until its transaction
-- ends). NULL when pruned.
CREATE FUNCTION risk_runs_prune(p_id bigint) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    why text;
    part text := 'risk_scores_r' || p_id;
BEGIN
    -- serialises prunes and the latest-run rule against each other
    PERFORM pg_advisory_xact_lock(727017);
    PERFORM 1 FROM scoring_runs WHERE id = p_id FOR UPDATE;
    why := risk_runs_prune_refusal(p_id);
    IF why IS NOT NULL THEN
        RETURN why;
    END IF;
    IF to_regclass(part) IS NOT NULL THEN
        BEGIN
            EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE NOWAIT', part);
        EXCEPTION WHEN lock_not_available THEN
            RETURN 'in use';
        END;
        -- dropping a partition also locks risk_scores itself for a moment:
        -- wait for readers' statements in flight, not for ever
        PERFORM set_config('lock_timeout', '5s', true);
        BEGIN
            EXECUTE format('DROP TABLE %I', part);
        EXCEPTION WHEN lock_not_available THEN
            RETURN 'in use (risk_scores busy)';
        END;
    END IF;
    DELETE FROM scoring_runs WHERE id = p_id;
    RETURN NULL;
END $$;
