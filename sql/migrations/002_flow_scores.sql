-- 002_flow_scores.sql: risk_scores rows of flow_exposure/v1 runs
-- (spec/flow_exposure.md) beside those of hop_exposure/v1. A flow row keeps
-- its two exposures and the per-hop shares R_1..R_K, S_1..S_K; a hop row keeps
-- exposures and exposures_json as before. Each row holds exactly one model's
-- columns and NULL in the other's: NULL says "this model has no such value",
-- where a neutral 0 or '[]' would read as a real hop result (0 illicit wallets
-- near it) to any SQL reader that does not look at the run's model. Existing
-- rows are hop rows and read as before.

ALTER TABLE risk_scores
    ALTER COLUMN exposures DROP NOT NULL,
    ALTER COLUMN exposures_json DROP NOT NULL,
    ADD COLUMN received_exposure double precision,  -- R_K, in [0, 1]
    ADD COLUMN sent_exposure     double precision,  -- S_K, in [0, 1]
    ADD COLUMN received_hops     double precision[], -- R_1 .. R_K
    ADD COLUMN sent_hops         double precision[], -- S_1 .. S_K
    ADD CONSTRAINT risk_scores_one_model CHECK (
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
         AND cardinality(sent_hops) = cardinality(received_hops)));
